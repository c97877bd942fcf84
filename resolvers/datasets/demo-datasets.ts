// The contract's demo dataset (contract/README.md, Demo data): iQIYI's short-video clips with
// Chinese descriptions, published and ALLIANCE-visible, seeded with the demo tenants. Text
// items only: the clip ids in the metadata point at iQIYI's own archive, not at uploaded blobs.
import type { EntityManager } from 'typeorm';

export const DEMO_DATASET = {
  owner: 'iqiyi',
  name: 'iqiyi-video-captions-zh',
  description: 'Short video clips with human-written Chinese descriptions, for video–text retrieval and captioning. ' +
    'Captions only; clip ids refer to the iQIYI research archive.',
  modality: 'TEXT',
  license: 'alliance-research-only',
  visibility: 'ALLIANCE',
};

const CAPTIONS: { clip: string; seconds: number; text: string }[] = [
  { clip: 'iq-000101', seconds: 12.4, text: '一位厨师在厨房里快速切菜，镜头随后转向锅中翻炒的青椒。' },
  { clip: 'iq-000102', seconds: 8.0, text: '夜晚的城市街道上，出租车在雨中缓缓驶过霓虹灯招牌。' },
  { clip: 'iq-000103', seconds: 15.2, text: '两名演员在古装剧片场对戏，导演在监视器后示意重来一次。' },
  { clip: 'iq-000104', seconds: 6.5, text: '一只橘猫跳上窗台，望着窗外飞过的麻雀。' },
  { clip: 'iq-000105', seconds: 20.1, text: '篮球比赛最后几秒，球员在三分线外出手投篮，观众起立欢呼。' },
  { clip: 'iq-000106', seconds: 9.8, text: '老人在公园里打太极拳，身后的湖面上有几只白鹅游过。' },
  { clip: 'iq-000107', seconds: 11.3, text: '综艺节目现场，主持人向嘉宾递上话筒，台下观众大笑。' },
  { clip: 'iq-000108', seconds: 7.7, text: '航拍镜头掠过梯田，清晨的雾气在山谷间缓慢散开。' },
];

/** Inserts the demo dataset with one published version; runs inside the seed's system transaction. */
export async function seedDemoDatasets(em: EntityManager): Promise<void> {
  const d = DEMO_DATASET;
  const [dataset]: { id: string; tenant_id: string }[] = await em.query(
    `INSERT INTO dataset (tenant_id, name, description, modality, license, visibility, last_version)
     SELECT id, $2, $3, $4, $5, $6, 1 FROM tenant WHERE slug = $1 RETURNING id, tenant_id`,
    [d.owner, d.name, d.description, d.modality, d.license, d.visibility]);
  if (!dataset) return;
  const [version]: { id: string }[] = await em.query(
    `INSERT INTO dataset_version (dataset_id, tenant_id, version, item_count, size_bytes)
     SELECT $1, $2, 1, count(*), sum(octet_length(t.text)) FROM jsonb_to_recordset($3::jsonb) AS t(text text) RETURNING id`,
    [dataset.id, dataset.tenant_id, JSON.stringify(CAPTIONS)]);
  await em.query(
    `INSERT INTO dataset_item (version_id, tenant_id, ordinal, text, metadata)
     SELECT $1, $2, t.ordinal, t.text, jsonb_build_object('clip', t.clip, 'seconds', t.seconds)
       FROM jsonb_to_recordset($3::jsonb) AS t(ordinal int, clip text, seconds numeric, text text)`,
    [version.id, dataset.tenant_id, JSON.stringify(CAPTIONS.map((c, ordinal) => ({ ...c, ordinal })))]);
  // Published last: the version is frozen from here on.
  await em.query(`UPDATE dataset_version SET published_at = date_trunc('milliseconds', now()) WHERE id = $1`, [version.id]);
  await em.query(
    `INSERT INTO audit_event (tenant_id, action, target_type, target_id, details)
     VALUES ($1, 'dataset.seed', 'Dataset', $2, $3)`,
    [dataset.tenant_id, dataset.id, JSON.stringify({ name: d.name, items: CAPTIONS.length })]);
}
