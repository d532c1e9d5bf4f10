using Canopy.Api;
using Canopy.Platform.Health;
using Canopy.Platform.Metrics;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Canopy.Platform.Redis;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddCanopyProblems();
builder.Services.AddCanopyPostgres(builder.Configuration);
builder.Services.AddCanopyRedis(builder.Configuration);
builder.Services.AddCanopyHealth(builder.Configuration);
builder.Services.AddCanopyMetrics(builder.Configuration);
builder.Services.AddControllers();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapControllers();
app.MapApiDocuments();

// Connect to Redis before the first request so readiness answers at once.
_ = app.Services.GetRequiredService<RedisConnection>().IsConnected;

await app.RunAsync().ConfigureAwait(false);

/// <summary>Entry point; public so integration tests can host the real application.</summary>
public partial class Program;
