using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Expressions;
using Serilog.Templates;

namespace Canopy.Platform.Observability;

/// <summary>Where log lines go: standard output in production; tests substitute a capturing writer.</summary>
public sealed class LogOutput(TextWriter writer, bool buffered = true)
{
    public TextWriter Writer { get; } = writer;

    /// <summary>Whether lines go through a background queue (standard output) or are written at once.</summary>
    public bool Buffered { get; } = buffered;
}

/// <summary>
/// Serilog for every log line of the process, through Serilog.AspNetCore: levels from the
/// <c>Serilog:MinimumLevel</c> configuration, one JSON object per line from an expression
/// template, one line per request from Serilog's request logging.
/// </summary>
public static class CanopyLogging
{
    /// <summary>
    /// One JSON object per line: UTC timestamp, level, the rendered message and its template,
    /// trace and span ids, every property (already redacted by <see cref="RedactionEnricher"/>),
    /// and the exception text, scrubbed of anything secret.
    /// </summary>
    public const string JsonLine =
        "{ {timestamp: UtcDateTime(@t), level: Level(@l), message: Scrubbed(@m), template: @mt, trace_id: @tr, span_id: @sp, ..@p, exception: Scrubbed(@x)} }\n";

    public static IServiceCollection AddCanopyLogging(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddHttpContextAccessor();
        services.AddSingleton(new LogOutput(Console.Out));
        // This host's own logger; the static Log.Logger is left alone (several hosts share a test process).
        services.AddSerilog(
            (sp, logger) => Configure(logger, sp.GetRequiredService<LogOutput>(), sp.GetRequiredService<IHttpContextAccessor>()).ReadFrom.Configuration(configuration),
            preserveStaticLogger: true);
        return services;
    }

    /// <summary>The logger pipeline: context, redaction, then the JSON lines.</summary>
    public static LoggerConfiguration Configure(LoggerConfiguration logger, LogOutput output, IHttpContextAccessor? http = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(output);
        logger = logger.Enrich.FromLogContext();
        if (http is not null)
        {
            logger = logger.Enrich.With(new RequestContextEnricher(http));
        }

        var sink = new TextWriterSink(new ExpressionTemplate(JsonLine, nameResolver: new StaticMemberNameResolver(typeof(LogFunctions))), output.Writer);
        logger = logger.Enrich.With<RedactionEnricher>();
        return output.Buffered
            ? logger.WriteTo.Async(a => a.Sink(sink), bufferSize: 50_000, blockWhenFull: false)
            : logger.WriteTo.Sink(sink);
    }

    /// <summary>
    /// Serilog's request logging: one line per request with the method, the route template
    /// (never the raw path or query, which can carry ids and secrets), the status, the duration
    /// and the problem type, if any.
    /// </summary>
    public static IApplicationBuilder UseCanopyRequestLogging(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.UseSerilogRequestLogging(options =>
        {
            options.Logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
            options.MessageTemplate = "HTTP {http_method} {http_route} responded {http_status} in {duration_ms} ms {problem_type}";
            options.GetMessageTemplateProperties = (context, _, elapsed, status) =>
            [
                new LogEventProperty("http_method", new ScalarValue(context.Request.Method)),
                new LogEventProperty("http_route", new ScalarValue(RouteOf(context))),
                new LogEventProperty("http_status", new ScalarValue(status)),
                new LogEventProperty("duration_ms", new ScalarValue(Math.Round(elapsed, 2))),
                new LogEventProperty("problem_type", new ScalarValue(context.Items.TryGetValue(ProblemFactory.ProblemTypeItem, out var slug) ? slug as string ?? "" : "")),
            ];
        });
    }

    private static string RouteOf(HttpContext context)
    {
        // After an exception the handler clears the endpoint; its feature keeps the original.
        var endpoint = context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
        return (endpoint as RouteEndpoint)?.RoutePattern.RawText is { } raw ? "/" + raw.TrimStart('/') : "(unmatched)";
    }

    /// <summary>Writes each formatted line to the output and flushes it (Serilog's core has no text-writer sink).</summary>
    private sealed class TextWriterSink(Serilog.Formatting.ITextFormatter formatter, TextWriter writer) : ILogEventSink
    {
        private readonly Lock _gate = new();

        public void Emit(LogEvent logEvent)
        {
            lock (_gate)
            {
                formatter.Format(logEvent, writer);
                writer.Flush();
            }
        }
    }

    /// <summary>Adds <c>tenant_id</c> and <c>user_id</c> of the signed-in caller, when known.</summary>
    private sealed class RequestContextEnricher(IHttpContextAccessor http) : ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
        {
            var user = http.HttpContext?.User;
            if (user?.Identity?.IsAuthenticated != true)
            {
                return;
            }

            if (user.FindFirst("tid")?.Value is { } tenant)
            {
                logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("tenant_id", tenant));
            }

            if (user.FindFirst("sub")?.Value is { } subject)
            {
                logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("user_id", subject));
            }
        }
    }
}

/// <summary>The functions <see cref="CanopyLogging.JsonLine"/> calls.</summary>
public static class LogFunctions
{
    /// <summary>Short lower-case level names: trace, debug, info, warn, error, fatal.</summary>
    public static LogEventPropertyValue? Level(LogEventPropertyValue? level) =>
        level is ScalarValue { Value: var value } && Enum.TryParse<LogEventLevel>(value?.ToString(), out var parsed)
            ? new ScalarValue(parsed switch
            {
                LogEventLevel.Verbose => "trace",
                LogEventLevel.Debug => "debug",
                LogEventLevel.Information => "info",
                LogEventLevel.Warning => "warn",
                LogEventLevel.Error => "error",
                _ => "fatal",
            })
            : level;

    /// <summary>A message or exception as text, with e-mail addresses, tokens and secrets masked.</summary>
    public static LogEventPropertyValue? Scrubbed(LogEventPropertyValue? value) => value switch
    {
        ScalarValue { Value: Exception exception } => new ScalarValue(LogRedaction.Scrub(exception.ToString())),
        ScalarValue { Value: string text } => new ScalarValue(LogRedaction.Scrub(text)),
        _ => value,
    };
}
