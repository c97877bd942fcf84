import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, name = 'alliance-hub'): Logger {
  return pino({
    name,
    level,
    // Tokens and cookies never reach the logs.
    redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.access_token'],
  });
}
