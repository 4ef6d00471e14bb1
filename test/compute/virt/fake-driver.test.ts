/** The fake driver keeps the promises every driver keeps. */
import { FakeDriver } from '../../../src/compute/virt/fake/fake-driver.ts';
import { driverConformance } from './driver-conformance.ts';

driverConformance('fake', async () => ({
  driver: new FakeDriver({ hostname: 'fake-conformance' }),
  imageId: 'any-image',
  cleanup: async () => undefined,
}));
