/**
 * The test guest image for tests that boot guests: built once into the user's cache (as
 * `tstack up` does) and shared by every test file, so only the first of a run pays the build.
 */
import { buildTestImage, defaultTestImageCache } from '../../src/compute/virt/qemu/test-image.ts';

let built: Promise<string> | undefined;

/** The path of the built test image (a qcow2). */
export function testImagePath(): Promise<string> {
  built ??= buildTestImage({ cacheDir: defaultTestImageCache() }).then((image) => image.path);
  return built;
}
