import { dirname, join } from 'node:path';
import sharp from 'sharp';

// Printed Chinese text for OCR tests, rendered by sharp (pango) with a CJK font from npm
// (@embedpdf/fonts-sc, Noto Sans Hans): the machine needs no system fonts.

export function cjkFontPath(): string {
  return join(dirname(require.resolve('@embedpdf/fonts-sc')), '..', 'fonts', 'NotoSansHans-Regular.otf');
}

export async function renderText(lines: string[], format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const escaped = lines.map((l) => l.replace(/&/g, '&amp;').replace(/</g, '&lt;')).join('\n');
  const image = sharp({
    text: {
      text: `<span foreground="black">${escaped}</span>`,
      fontfile: cjkFontPath(),
      font: 'Noto Sans Hans',
      dpi: 200,
      rgba: true,
      spacing: 16,
    },
  })
    .flatten({ background: '#ffffff' })
    .extend({ top: 24, bottom: 24, left: 24, right: 24, background: '#ffffff' });
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 90 }).toBuffer();
}
