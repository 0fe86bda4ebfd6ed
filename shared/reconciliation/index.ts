export { getReconciliation, previousDay, reconcileDay } from './reconcile';
