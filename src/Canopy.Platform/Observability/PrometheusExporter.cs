using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Canopy.Platform.Observability;

/// <summary>
/// Renders the OpenTelemetry SDK's metrics in the Prometheus text exposition format 0.0.4.
/// The reader is pull-based: each scrape collects, and the SDK calls <see cref="Export"/> on the
/// scraping thread with cumulative values.
/// </summary>
public sealed class PrometheusExporter : BaseExporter<Metric>
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly Lock _gate = new();
    private StringBuilder? _target;

    /// <summary>The reader to register with the meter provider.</summary>
    public BaseExportingMetricReader Reader { get; }

    public PrometheusExporter()
    {
        Reader = new BaseExportingMetricReader(this) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
    }

    public string Scrape()
    {
        lock (_gate)
        {
            _target = new StringBuilder();
            try
            {
                Reader.Collect(5_000);
                return _target.ToString();
            }
            finally
            {
                _target = null;
            }
        }
    }

    public override ExportResult Export(in Batch<Metric> batch)
    {
        var text = _target;
        if (text is null)
        {
            return ExportResult.Success; // a collection nobody scraped (e.g. on shutdown)
        }

        foreach (var metric in batch)
        {
            Write(text, metric);
        }

        return ExportResult.Success;
    }

    private static void Write(StringBuilder text, Metric metric)
    {
        var name = PrometheusNames.Metric(metric.Name, metric.Unit, metric.MetricType is MetricType.LongSum or MetricType.DoubleSum);
        var type = metric.MetricType switch
        {
            MetricType.LongSum or MetricType.DoubleSum => "counter",
            MetricType.Histogram => "histogram",
            MetricType.ExponentialHistogram => null,
            _ => "gauge",
        };
        if (type is null)
        {
            return;
        }

        text.Append("# HELP ").Append(name).Append(' ').Append(PrometheusNames.EscapeHelp(metric.Description is { Length: > 0 } d ? d : metric.Name)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = new List<KeyValuePair<string, string>>();
            foreach (var tag in point.Tags)
            {
                labels.Add(new(PrometheusNames.Label(tag.Key), Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? ""));
            }

            switch (metric.MetricType)
            {
                case MetricType.LongSum:
                case MetricType.LongSumNonMonotonic:
                    Sample(text, name, labels, point.GetSumLong());
                    break;
                case MetricType.DoubleSum:
                case MetricType.DoubleSumNonMonotonic:
                    Sample(text, name, labels, point.GetSumDouble());
                    break;
                case MetricType.LongGauge:
                    Sample(text, name, labels, point.GetGaugeLastValueLong());
                    break;
                case MetricType.DoubleGauge:
                    Sample(text, name, labels, point.GetGaugeLastValueDouble());
                    break;
                case MetricType.Histogram:
                    long cumulative = 0;
                    foreach (var bucket in point.GetHistogramBuckets())
                    {
                        cumulative += bucket.BucketCount;
                        var le = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : Number(bucket.ExplicitBound);
                        Sample(text, name + "_bucket", [.. labels, new("le", le)], cumulative);
                    }

                    Sample(text, name + "_sum", labels, point.GetHistogramSum());
                    Sample(text, name + "_count", labels, point.GetHistogramCount());
                    break;
            }
        }
    }

    private static void Sample(StringBuilder text, string name, List<KeyValuePair<string, string>> labels, double value)
    {
        text.Append(name);
        if (labels.Count > 0)
        {
            text.Append('{');
            for (var i = 0; i < labels.Count; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }

                text.Append(labels[i].Key).Append("=\"").Append(PrometheusNames.EscapeLabelValue(labels[i].Value)).Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);
}
