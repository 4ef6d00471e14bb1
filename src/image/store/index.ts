/** Image data stores: the interface, its errors and the filesystem store. */
export * from './errors.ts';
export {
  FilesystemStore,
  type FilesystemStoreOptions,
  type RemoveOrphansOptions,
} from './filesystem-store.ts';
export { InlineHasher, WorkerHasher, type HashSession, type StreamHasher } from './hashers.ts';
export type { ByteRange, GetResult, ImageStore, PutOptions, PutResult } from './image-store.ts';
