import { AppError } from './app-error';
import { fromGlobalId, parseGlobalId, toGlobalId } from './global-id';

const UUID = '3f2b8a9e-1c4d-4e5f-8a6b-7c8d9e0f1a2b';

describe('global ids', () => {
  it('round-trips type and uuid', () => {
    expect(parseGlobalId(toGlobalId('Dataset', UUID))).toEqual({ type: 'Dataset', id: UUID });
    expect(fromGlobalId(toGlobalId('Dataset', UUID), 'Dataset')).toBe(UUID);
  });

  it('answers NOT_FOUND for an id of another type, BAD_USER_INPUT for garbage', () => {
    const wrongType = () => fromGlobalId(toGlobalId('Model', UUID), 'Dataset');
    expect(wrongType).toThrow(AppError);
    expect(() => wrongType()).toThrow(/not found/);
    for (const bad of ['', 'x', '!!!', Buffer.from('Dataset:not-a-uuid').toString('base64url'), 'a'.repeat(500)]) {
      expect(() => fromGlobalId(bad, 'Dataset')).toThrow(/not a valid Dataset id/);
    }
  });
});
