using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace Canopy.Platform.Observability;

/// <summary>Where log lines go: standard output in production; tests substitute a capturing writer.</summary>
public sealed class LogOutput(TextWriter writer, bool buffered = true)
{
    public TextWriter Writer { get; } = writer;

    /// <summary>Whether lines go through a background queue (standard output) or are written at once.</summary>
    public bool Buffered { get; } = buffered;
}

public static class CanopyLogging
{
    /// <summary>
    /// Serilog JSON lines for every <see cref="Microsoft.Extensions.Logging.ILogger"/> of the
    /// process. Levels stay those of the <c>Logging:LogLevel</c> configuration.
    /// </summary>
    public static IServiceCollection AddCanopyLogging(this IServiceCollection services, ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(logging);
        logging.ClearProviders();
        services.AddHttpContextAccessor();
        services.AddSingleton(new LogOutput(Console.Out));
        services.AddSingleton<ILoggerProvider>(sp =>
            new SerilogLoggerProvider(CreateLogger(sp.GetRequiredService<LogOutput>(), sp.GetRequiredService<IHttpContextAccessor>()), dispose: true));
        return services;
    }

    /// <summary>The logger pipeline: context, redaction, then the JSON formatter.</summary>
    public static Logger CreateLogger(LogOutput output, IHttpContextAccessor? http = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .Enrich.FromLogContext();
        if (http is not null)
        {
            configuration = configuration.Enrich.With(new RequestContextEnricher(http));
        }

        configuration = configuration.Enrich.With<RedactionEnricher>();
        var formatter = new CanopyJsonFormatter();
        var sink = new TextWriterSink(formatter, output.Writer);
        return output.Buffered
            ? configuration.WriteTo.Async(a => a.Sink(sink), bufferSize: 50_000, blockWhenFull: false).CreateLogger()
            : configuration.WriteTo.Sink(sink).CreateLogger();
    }

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
