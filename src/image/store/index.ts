/** Image data stores: the interface, its errors and the filesystem store. */
export * from './errors.ts';
export { FilesystemStore, type RemoveOrphansOptions } from './filesystem-store.ts';
export type { ByteRange, GetResult, ImageStore, PutOptions, PutResult } from './image-store.ts';
