/** What `GET /metrics` answered: status, headers, and the Prometheus text (or the JSON error's text). */
export interface MetricsScrape {
  status: number;
  headers: Headers;
  text: string;
}

/** The metrics every process answers with, as the contract lists them (v1.1, "Operations"). */
export const PROCESS_METRICS = [
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'process_cpu_seconds_total',
] as const;

/** chat-service's own metrics (v1.1, "Operations"). */
export const CHAT_METRICS = ['chat_sockets', 'chat_deliveries_total', 'chat_messages_total'] as const;

/** `GET <baseUrl>/metrics`, with `token` as a bearer token when given. */
export async function scrapeMetrics(baseUrl: string, token?: string): Promise<MetricsScrape> {
  const response = await fetch(`${baseUrl}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/**
 * The value of the unlabelled sample `name` in Prometheus text, or undefined when the text has none
 * (a `# TYPE` line alone does not count).
 */
export function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const [sample, value] = line.split(' ');
    if (sample === name && value !== undefined) return Number(value);
  }
  return undefined;
}
