import * as v from 'valibot';

/**
 * The shapes our routes answer with, as valibot schemas so the document is generated the same way as the request
 * schemas. Objects are strict: a field the code adds without documenting it fails the end-to-end response check.
 * Kept beside the generator (not in shared/) so no Lambda bundle carries them.
 */
const time = v.pipe(v.string(), v.description('RFC 3339, Beijing time (+08:00)'));
const fen = v.pipe(v.number(), v.integer(), v.description('fen (1/100 CNY)'));
const text = v.string();

/** RFC 9457 problem details: `code` is a stable token (ours, or WeChat's when it refused the call). */
export const problemSchema = v.looseObject({
  type: v.string(),
  status: v.pipe(v.number(), v.integer()),
  code: v.string(),
  detail: v.string(),
  errors: v.optional(v.array(v.strictObject({ field: v.string(), message: v.string() }))),
  wechatpay: v.optional(v.record(v.string(), v.unknown())),
});

const refundBrief = v.strictObject({
  out_refund_no: text,
  state: v.picklist(['CREATING', 'UNCERTAIN', 'REJECTED', 'PROCESSING', 'SUCCESS', 'ABNORMAL', 'CLOSED']),
  amount: fen,
});
/** What an order's GET shows of its refunds, once it has any. */
const refunds = {
  refunded_total: v.optional(fen),
  refunds: v.optional(v.array(refundBrief)),
};

export const h5OrderSchema = v.strictObject({
  out_trade_no: text,
  state: v.picklist(['CREATING', 'NOTPAY', 'USERPAYING', 'PAYERROR', 'SUCCESS', 'REFUND', 'CLOSED', 'REVOKED']),
  amount: v.strictObject({ total: fen, currency: text, payer_total: v.optional(fen) }),
  h5_url: v.optional(v.pipe(v.string(), v.description('open it in the payer\'s mobile browser; valid until h5_url_expires_at'))),
  h5_url_expires_at: v.optional(time),
  transaction_id: v.optional(text),
  trade_type: v.optional(text),
  trade_state_desc: v.optional(text),
  bank_type: v.optional(text),
  payer: v.optional(v.strictObject({ openid: text })),
  success_time: v.optional(time),
  created_at: time,
  updated_at: time,
  ...refunds,
});

const wechatRefusal = v.record(v.string(), v.unknown());

export const presignAnswerSchema = v.strictObject({
  out_contract_code: text,
  state: v.picklist(['REJECTED', 'PRESIGNED', 'EXPIRED', 'SIGNED', 'TERMINATED']),
  redirect_url: v.optional(text),
  redirect_url_expires_at: v.optional(time),
});

const repaymentFields = {
  out_trade_no: text,
  out_record_id: v.optional(text),
  deduct_amount: v.pipe(v.string(), v.description('fen, as WeChat writes it')),
  state: v.picklist(['PENDING', 'PAY_SUCCESS', 'PAY_FAIL']),
  order_state: v.optional(text),
  transaction_id: v.optional(text),
  pay_success_amount: v.optional(v.pipe(v.string(), v.description('fen actually repaid; may be less than deduct_amount'))),
  success_time: v.optional(time),
};
const repayment = v.strictObject(repaymentFields);

export const repaymentSchema = v.strictObject({ ...repaymentFields, out_contract_code: text });

export const scheduleSchema = v.strictObject({
  out_record_id: text,
  out_contract_code: text,
  contract_id: text,
  state: v.literal('SCHEDULED'),
  repayment_amount: text,
  min_repayment_amount: v.optional(text),
  repayment_date: text,
});

export const repaymentContractSchema = v.looseObject({
  out_contract_code: text,
  state: v.picklist(['REJECTED', 'PRESIGNED', 'EXPIRED', 'SIGNED', 'TERMINATED']),
  redirect_url: v.optional(text),
  redirect_url_expires_at: v.optional(time),
  plan_id: v.optional(text),
  contract_id: v.optional(text),
  first_repayment: v.optional(repayment),
  repayments: v.optional(v.array(repayment)),
  error: v.optional(v.looseObject({ code: text, message: text })),
  created_at: time,
  updated_at: time,
});

const jsapiPayParams = v.strictObject({ appId: text, timeStamp: text, nonceStr: text, package: text, signType: v.literal('MD5'), paySign: text });
const appPayParams = v.strictObject({ appid: text, partnerid: text, prepayid: text, package: v.literal('Sign=WXPay'), noncestr: text, timestamp: text, sign: text });

export const contractOrderAnswerSchema = v.strictObject({
  out_trade_no: text,
  contract_code: text,
  trade_type: v.picklist(['JSAPI', 'NATIVE', 'APP', 'MWEB']),
  prepay_id: text,
  prepay_id_expires_at: time,
  code_url: v.optional(text),
  mweb_url: v.optional(text),
  mweb_url_expires_at: v.optional(time),
  pay_params: v.optional(v.union([jsapiPayParams, appPayParams])),
  contract_refused: v.optional(wechatRefusal),
});

export const contractOrderSchema = v.strictObject({
  out_trade_no: text,
  trade_type: v.picklist(['JSAPI', 'NATIVE', 'APP', 'MWEB']),
  total_fee: fen,
  payment: v.strictObject({
    state: v.picklist(['CREATING', 'UNCERTAIN', 'REJECTED', 'NOTPAY', 'PAYERROR', 'SUCCESS', 'CLOSED']),
    transaction_id: v.optional(text),
    total_fee: fen,
    cash_fee: v.optional(fen),
    bank_type: v.optional(text),
    time_end: v.optional(time),
    time_end_raw: v.optional(v.pipe(v.string(), v.description('WeChat\'s yyyyMMddHHmmss, Beijing time, as on its bills'))),
    err_code: v.optional(text),
    err_code_des: v.optional(text),
  }),
  contract: v.strictObject({
    contract_code: text,
    plan_id: v.number(),
    state: v.picklist(['RESERVED', 'UNCERTAIN', 'REJECTED', 'PENDING', 'SIGNED', 'TERMINATED']),
    contract_id: v.optional(text),
    signed_at: v.optional(time),
    terminated_at: v.optional(time),
    contract_expired_time: v.optional(time),
    contract_termination_mode: v.optional(text),
  }),
  refusal: v.optional(wechatRefusal),
  contract_refusal: v.optional(wechatRefusal),
  created_at: time,
  updated_at: time,
  ...refunds,
});

export const refundSchema = v.strictObject({
  out_refund_no: text,
  out_trade_no: text,
  state: v.picklist(['CREATING', 'UNCERTAIN', 'REJECTED', 'PROCESSING', 'SUCCESS', 'ABNORMAL', 'CLOSED']),
  amount: v.strictObject({ refund: fen, total: fen, currency: text, payer_refund: v.optional(fen) }),
  reason: v.optional(text),
  refund_id: v.optional(text),
  channel: v.optional(text),
  user_received_account: v.optional(text),
  success_time: v.optional(time),
  error: v.optional(v.looseObject({ code: text, message: text })),
  remedy: v.optional(text),
  created_at: time,
  updated_at: time,
});

export const papayContractSchema = v.strictObject({
  contract_id: text,
  contract_code: text,
  plan_id: v.number(),
  state: text,
  openid: v.optional(v.pipe(v.string(), v.description('the payer, as WeChat named it'))),
  signed_at: v.optional(time),
  terminated_at: v.optional(time),
  termination_mode: v.optional(text),
  expires_at: v.optional(time),
  out_trade_no: v.pipe(v.string(), v.description('the pay-and-sign order that signed it')),
});

export const preNoticeSchema = v.strictObject({
  contract_id: text,
  sent: v.boolean(),
  reason: v.optional(text),
  estimated_amount: fen,
  deduct_days: v.number(),
});

export const deductionSchema = v.strictObject({
  out_trade_no: text,
  contract_id: text,
  state: v.picklist(['ACCEPTED', 'SUCCESS', 'PAY_FAIL', 'CLOSED']),
  total_fee: fen,
  body: text,
  attach: v.optional(text),
  transaction_id: v.optional(text),
  time_end: v.optional(time),
  failure: v.optional(v.strictObject({ err_code: text, err_code_des: v.optional(text) })),
  created_at: time,
  updated_at: time,
  ...refunds,
});

const billSide = v.strictObject({ amount: fen, transaction_id: text, trade_type: text });
const ourSide = v.strictObject({ amount: fen, transaction_id: v.optional(text), product: text });

export const reconciliationSchema = v.strictObject({
  date: text,
  mchid: text,
  ran_at: time,
  bill: v.strictObject({ sha1: text, lines: v.number() }),
  settled_here: v.number(),
  differences: v.array(
    v.strictObject({
      kind: v.picklist(['NOT_RECORDED', 'NOT_IN_BILL', 'AMOUNT_DIFFERS', 'TRANSACTION_DIFFERS']),
      key: text,
      out_trade_no: text,
      out_refund_no: v.optional(text),
      wechat: v.optional(billSide),
      ours: v.optional(ourSide),
      found_at: time,
    }),
  ),
});
