using System.Globalization;
using Serilog.Events;
using Serilog.Parsing;
using Serilog.Formatting;
using Serilog.Formatting.Json;

namespace Canopy.Platform.Observability;

/// <summary>
/// One JSON object per line: UTC timestamp, level, rendered message, trace and span ids, the
/// event's properties (already redacted by <see cref="RedactionEnricher"/>) and the exception
/// text, scrubbed of anything secret.
/// </summary>
public sealed class CanopyJsonFormatter : ITextFormatter
{
    private static readonly JsonValueFormatter Values = new(typeTagName: null);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        ArgumentNullException.ThrowIfNull(output);
        output.Write("{\"timestamp\":\"");
        output.Write(logEvent.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
        output.Write("\",\"level\":\"");
        output.Write(Level(logEvent.Level));
        output.Write("\",\"message\":");
        JsonValueFormatter.WriteQuotedJsonString(LogRedaction.Scrub(Render(logEvent)), output);
        output.Write(",\"template\":");
        JsonValueFormatter.WriteQuotedJsonString(logEvent.MessageTemplate.Text, output);
        if (logEvent.TraceId is { } traceId)
        {
            output.Write(",\"trace_id\":\"");
            output.Write(traceId.ToHexString());
            output.Write('"');
        }

        if (logEvent.SpanId is { } spanId)
        {
            output.Write(",\"span_id\":\"");
            output.Write(spanId.ToHexString());
            output.Write('"');
        }

        foreach (var (name, value) in logEvent.Properties)
        {
            output.Write(',');
            JsonValueFormatter.WriteQuotedJsonString(name, output);
            output.Write(':');
            Values.Format(value, output);
        }

        if (logEvent.Exception is not null)
        {
            output.Write(",\"exception\":");
            JsonValueFormatter.WriteQuotedJsonString(LogRedaction.Scrub(logEvent.Exception.ToString()), output);
        }

        output.Write("}\n");
    }

    /// <summary>The message with its values, strings unquoted (the structured values follow as properties).</summary>
    private static string Render(LogEvent logEvent)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        foreach (var token in logEvent.MessageTemplate.Tokens)
        {
            if (token is PropertyToken property && logEvent.Properties.TryGetValue(property.PropertyName, out var value))
            {
                if (value is ScalarValue { Value: string s })
                {
                    text.Write(s);
                }
                else
                {
                    value.Render(text, property.Format, CultureInfo.InvariantCulture);
                }
            }
            else
            {
                token.Render(logEvent.Properties, text, CultureInfo.InvariantCulture);
            }
        }

        return text.ToString();
    }

    private static string Level(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "info",
        LogEventLevel.Warning => "warn",
        LogEventLevel.Error => "error",
        _ => "fatal",
    };
}
