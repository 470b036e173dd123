/** Types of parse-prometheus-text-format (it ships none): Prometheus text format in, metric families out. */
declare module 'parse-prometheus-text-format' {
  /** One series; numbers stay strings, as in the text. Histograms have buckets, count and sum instead of a value. */
  export interface Sample {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }

  export interface MetricFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: Sample[];
  }

  /** Throws on a line that is not valid text format. */
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
