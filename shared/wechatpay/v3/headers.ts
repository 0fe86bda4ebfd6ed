/**
 * Header access that works for a fetch `Headers`, Node's `IncomingHttpHeaders` and API Gateway
 * event maps alike. Header names are case-insensitive on the wire, but plain objects keep whatever
 * case the sender (or the gateway) used, so lookups must ignore case.
 */
export type HeaderValue = string | readonly string[] | undefined;
export type HeaderSource = Headers | Readonly<Record<string, HeaderValue>>;

export type HeaderReader = (lowerCaseName: string) => HeaderValue;

/** A lookup function over `headers`, taking lower-case names. */
export function headerReader(headers: HeaderSource): HeaderReader {
  if (typeof (headers as Headers).get === 'function' && typeof (headers as Headers).forEach === 'function') {
    const h = headers as Headers;
    return (name) => h.get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, HeaderValue>>;
  let lowered: Map<string, HeaderValue> | undefined;
  return (name) => {
    // Fast path: already lower-case (API Gateway HTTP APIs, Node) or exactly as looked up.
    const direct = record[name];
    if (direct !== undefined) return direct;
    if (lowered === undefined) {
      lowered = new Map();
      for (const key of Object.keys(record)) lowered.set(key.toLowerCase(), record[key]);
    }
    return lowered.get(name);
  };
}
