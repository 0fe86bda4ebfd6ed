import { notFound } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import type { Runtime } from '../runtime/container';
import { keys } from '../store/keys';
import { toView, type ContractCodeRecord, type ContractOrderRecord, type ContractOrderView } from './record';
import { OUT_TRADE_NO } from './schema';

/**
 * `GET /contract-orders/{out_trade_no}`: the payment state (from the payment notification) and the contract state
 * (from the signing / termination notifications) of one pay-and-sign order, from our table.
 */
export async function getContractOrder(rt: Runtime, outTradeNo: string | undefined): Promise<ContractOrderView> {
  if (!outTradeNo || !OUT_TRADE_NO.test(outTradeNo)) {
    throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 1-32 characters of 0-9 A-Z a-z _ - | *' }]);
  }
  const order = await rt.claims.get<ContractOrderRecord>(keys.contractOrder(outTradeNo));
  if (!order || order.kind !== 'CONTRACT_ORDER' || order.state === 'CREATING') throw notFound(`contract order ${outTradeNo}`);
  const code = await rt.claims.get<ContractCodeRecord>(keys.contractCode(order.contract_code));
  return toView(order, code);
}
