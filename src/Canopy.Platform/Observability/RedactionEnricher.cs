using Serilog.Core;
using Serilog.Events;

namespace Canopy.Platform.Observability;

/// <summary>
/// Rewrites every property of an event before it is formatted: a property whose name is
/// sensitive is masked whole; structures and dictionaries are walked; strings are scrubbed.
/// </summary>
public sealed class RedactionEnricher : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        foreach (var (name, value) in logEvent.Properties.ToList())
        {
            var redacted = LogRedaction.IsSensitiveName(name) ? new ScalarValue(LogRedaction.Mask) : Redact(value);
            if (!ReferenceEquals(redacted, value))
            {
                logEvent.AddOrUpdateProperty(new LogEventProperty(name, redacted));
            }
        }
    }

    private static LogEventPropertyValue Redact(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string s } => Scrubbed(value, s),
        StructureValue structure => new StructureValue(
            structure.Properties.Select(p => new LogEventProperty(
                p.Name, LogRedaction.IsSensitiveName(p.Name) ? new ScalarValue(LogRedaction.Mask) : Redact(p.Value))),
            structure.TypeTag),
        SequenceValue sequence => new SequenceValue(sequence.Elements.Select(Redact)),
        DictionaryValue dictionary => new DictionaryValue(dictionary.Elements.Select(e =>
            new KeyValuePair<ScalarValue, LogEventPropertyValue>(
                e.Key,
                e.Key.Value is string key && LogRedaction.IsSensitiveName(key) ? new ScalarValue(LogRedaction.Mask) : Redact(e.Value)))),
        _ => value,
    };

    private static LogEventPropertyValue Scrubbed(LogEventPropertyValue original, string text)
    {
        var scrubbed = LogRedaction.Scrub(text);
        return scrubbed == text ? original : new ScalarValue(scrubbed);
    }
}
