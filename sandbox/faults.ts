/**
 * Fault switches (sandbox/README.md "Faults"). Counters are consumed by API calls (`/v3/…` and
 * `/pay/contractorder`) or by notification deliveries; switches stay until changed or reset.
 */
export type TimeoutMode = 'before' | 'after';
export type NotifyOrder = 'normal' | 'reversed';
/** `minimal`: credit-repayment notifications carry only the business keys (their field lists are unpublished). */
export type NotifyPayload = 'full' | 'minimal';

export interface FaultSettings {
  /** Next N API calls answer 500 SYSTEM_ERROR (v2: result_code FAIL, err_code SYSTEMERROR). */
  systemError: number;
  /** Next N API calls never answer: the socket is held, then destroyed after `timeoutHangMs`. */
  timeout: number;
  /** `before`: hang without processing; `after`: process the call (state changes!) then hang. */
  timeoutMode: TimeoutMode;
  timeoutHangMs: number;
  /** Next N v3 answers carry a `WECHATPAY/SIGNTEST/…` probe signature. */
  signTest: number;
  /** Only API calls whose path contains this string consume the three counters above. */
  match: string;
  /** Next N v3 notification deliveries carry a probe signature. */
  notifySignTest: number;
  /**
   * Next N notifications are lost for good: never delivered, no re-send (every one of WeChat's retries lost).
   * Only an active query can then find out what happened (the recovery sweeper, shared/recovery).
   */
  notifyDrop: number;
  /** Each delivery attempt is sent this many times concurrently (1 = normal). */
  notifyCopies: number;
  /** Extra real-time delay (ms) before the first attempt of every notification group. */
  notifyDelayMs: number;
  /** `reversed`: contract before payment (contractorder), deduction before signing (credit repayment). */
  notifyOrder: NotifyOrder;
  /** Main listener closed (connections refused); the backup listener keeps serving. */
  mainDown: boolean;
  /**
   * `minimal`: SIGN_CONTRACT / TERMINATE_CONTRACT carry only `out_contract_code` and `contract_id`, DEDUCTION_PAY
   * only `out_trade_no` — the least a receiver may rely on, so it must query for state, amounts and binding.
   */
  notifyPayload: NotifyPayload;
  /** What a PROCESSING refund turns into when it settles: SUCCESS (default), ABNORMAL or CLOSED. */
  refundOutcome: RefundOutcome;
  /**
   * What an accepted papay deduction settles into: `success`; `notenough` / `bankerror` (PAY_FAIL with that
   * err_code, notified); `silent-fail` (PAY_FAIL without any notification, as WeChat does in some cases).
   */
  deductionOutcome: DeductionOutcome;
  /** Next N new pay-and-sign orders are made but their contract refused (`contract_result_code FAIL`, "已签约"). */
  contractRefused: number;
}

/** `manual`: nothing settles by itself; only `/sandbox/act` (refund-* / deduct-*) does. */
export type RefundOutcome = 'success' | 'abnormal' | 'closed' | 'manual';
export type DeductionOutcome = 'success' | 'notenough' | 'bankerror' | 'silent-fail' | 'manual';

export type ApiFault = 'system-error' | 'timeout-before' | 'timeout-after';

const DEFAULTS: FaultSettings = {
  systemError: 0,
  timeout: 0,
  timeoutMode: 'before',
  timeoutHangMs: 30_000,
  signTest: 0,
  match: '',
  notifySignTest: 0,
  notifyDrop: 0,
  notifyCopies: 1,
  notifyDelayMs: 0,
  notifyOrder: 'normal',
  mainDown: false,
  notifyPayload: 'full',
  refundOutcome: 'success',
  deductionOutcome: 'success',
  contractRefused: 0,
};

export class FaultInputError extends Error {
  override name = 'FaultInputError';
}

function count(value: unknown, name: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new FaultInputError(`${name} must be an integer >= ${min}`);
  }
  return value;
}

export class Faults {
  private s: FaultSettings = { ...DEFAULTS };

  constructor(private readonly mainSwitch: (down: boolean) => Promise<void>) {}

  snapshot(): FaultSettings {
    return { ...this.s };
  }

  /** Applies a partial update (the JSON of `POST /sandbox/faults`). Unknown keys are rejected. */
  async set(patch: Record<string, unknown>): Promise<FaultSettings> {
    const next = { ...this.s };
    for (const [key, value] of Object.entries(patch)) {
      switch (key) {
        case 'systemError':
        case 'timeout':
        case 'signTest':
        case 'notifySignTest':
        case 'notifyDrop':
        case 'notifyDelayMs':
        case 'timeoutHangMs':
        case 'contractRefused':
          next[key] = count(value, key);
          break;
        case 'notifyCopies':
          next.notifyCopies = count(value, key, 1);
          break;
        case 'timeoutMode':
          if (value !== 'before' && value !== 'after') throw new FaultInputError('timeoutMode must be "before" or "after"');
          next.timeoutMode = value;
          break;
        case 'notifyOrder':
          if (value !== 'normal' && value !== 'reversed') throw new FaultInputError('notifyOrder must be "normal" or "reversed"');
          next.notifyOrder = value;
          break;
        case 'refundOutcome':
          if (value !== 'success' && value !== 'abnormal' && value !== 'closed' && value !== 'manual') {
            throw new FaultInputError('refundOutcome must be "success", "abnormal", "closed" or "manual"');
          }
          next.refundOutcome = value;
          break;
        case 'deductionOutcome':
          if (value !== 'success' && value !== 'notenough' && value !== 'bankerror' && value !== 'silent-fail' && value !== 'manual') {
            throw new FaultInputError('deductionOutcome must be "success", "notenough", "bankerror", "silent-fail" or "manual"');
          }
          next.deductionOutcome = value;
          break;
        case 'notifyPayload':
          if (value !== 'full' && value !== 'minimal') throw new FaultInputError('notifyPayload must be "full" or "minimal"');
          next.notifyPayload = value;
          break;
        case 'match':
          if (typeof value !== 'string') throw new FaultInputError('match must be a string');
          next.match = value;
          break;
        case 'mainDown':
          if (typeof value !== 'boolean') throw new FaultInputError('mainDown must be a boolean');
          next.mainDown = value;
          break;
        default:
          throw new FaultInputError(`unknown fault switch: ${key}`);
      }
    }
    const switchMain = next.mainDown !== this.s.mainDown;
    this.s = next;
    if (switchMain) await this.mainSwitch(next.mainDown);
    return this.snapshot();
  }

  systemError(n = 1, match = ''): Promise<FaultSettings> {
    return this.set({ systemError: n, match });
  }

  timeout(n = 1, mode: TimeoutMode = 'before', match = ''): Promise<FaultSettings> {
    return this.set({ timeout: n, timeoutMode: mode, match });
  }

  signTest(n = 1, match = ''): Promise<FaultSettings> {
    return this.set({ signTest: n, match });
  }

  notifySignTest(n = 1): Promise<FaultSettings> {
    return this.set({ notifySignTest: n });
  }

  duplicateNotifications(copies = 2): Promise<FaultSettings> {
    return this.set({ notifyCopies: copies });
  }

  delayNotifications(ms: number): Promise<FaultSettings> {
    return this.set({ notifyDelayMs: ms });
  }

  outOfOrder(on = true): Promise<FaultSettings> {
    return this.set({ notifyOrder: on ? 'reversed' : 'normal' });
  }

  refuseMain(): Promise<FaultSettings> {
    return this.set({ mainDown: true });
  }

  restoreMain(): Promise<FaultSettings> {
    return this.set({ mainDown: false });
  }

  async reset(): Promise<FaultSettings> {
    const wasDown = this.s.mainDown;
    this.s = { ...DEFAULTS };
    if (wasDown) await this.mainSwitch(false);
    return this.snapshot();
  }

  /** Consumed once per API call, before it is processed. */
  takeApiFault(path: string): ApiFault | undefined {
    if (this.s.match !== '' && !path.includes(this.s.match)) return undefined;
    if (this.s.systemError > 0) {
      this.s.systemError -= 1;
      return 'system-error';
    }
    if (this.s.timeout > 0) {
      this.s.timeout -= 1;
      return this.s.timeoutMode === 'after' ? 'timeout-after' : 'timeout-before';
    }
    return undefined;
  }

  /** Consumed once per signed v3 answer. */
  takeSignTest(path: string): boolean {
    if (this.s.match !== '' && !path.includes(this.s.match)) return false;
    if (this.s.signTest > 0) {
      this.s.signTest -= 1;
      return true;
    }
    return false;
  }

  /** Consumed once per notification (not per attempt): true when this one is lost for good. */
  takeNotifyDrop(): boolean {
    if (this.s.notifyDrop > 0) {
      this.s.notifyDrop -= 1;
      return true;
    }
    return false;
  }

  takeNotifySignTest(): boolean {
    if (this.s.notifySignTest > 0) {
      this.s.notifySignTest -= 1;
      return true;
    }
    return false;
  }

  get notifyCopies(): number {
    return this.s.notifyCopies;
  }

  get notifyDelayMs(): number {
    return this.s.notifyDelayMs;
  }

  get notifyOrder(): NotifyOrder {
    return this.s.notifyOrder;
  }

  /** Consumes one `contractRefused`: true when this new pay-and-sign order's contract is to be refused. */
  takeContractRefusal(): boolean {
    if (this.s.contractRefused <= 0) return false;
    this.s.contractRefused -= 1;
    return true;
  }

  get deductionOutcome(): DeductionOutcome {
    return this.s.deductionOutcome;
  }

  get refundOutcome(): RefundOutcome {
    return this.s.refundOutcome;
  }

  get notifyPayload(): NotifyPayload {
    return this.s.notifyPayload;
  }

  get timeoutHangMs(): number {
    return this.s.timeoutHangMs;
  }
}
