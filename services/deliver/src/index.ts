export { createDeliverWorker, processDelivery, type DeliverOutcome } from './deliver-worker.ts';
export { dispatch, enqueueHeads } from './dispatch.ts';
export { DELIVERY_HEADER, SIGNATURE_HEADER, signatureHeader, verifySignature } from './signature.ts';
