using Canopy.Identity.Audit;
using Canopy.Identity.Features;
using Canopy.Identity.Security;
using Canopy.Platform.Migrations;
using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;

// Problem answers for invalid input, binding-source inference: as for every Canopy controller.
[assembly: ApiController]

namespace Canopy.Identity;

public static partial class IdentityModule
{
    public static MigrationSource Migrations { get; } = MigrationSource.FromAssembly("identity", typeof(IdentityModule).Assembly);

    private const string RevocationUnavailable = "canopy.identity.revocation-unavailable";

    /// <summary>
    /// The Identity module: its use cases, its keys (validated at start-up: a missing or malformed
    /// key stops the service), and bearer authentication with ES256 access tokens.
    /// </summary>
    public static IServiceCollection AddIdentityModule(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IdentityOptions>().Bind(configuration.GetSection(IdentityOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<PiiProtector>();
        services.AddSingleton<SigningKeyRing>();
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<AccessTokens>();
        services.AddSingleton<TokenRevocations>();
        services.AddSingleton<SecurityLog>();
        services.AddSingleton<Canopy.Platform.Messaging.IEventSubscriber, DeviceTokenRefusals>();
        services.AddSingleton<IdentityDatabase>();
        services.AddSingleton<Features.SignUp>();
        services.AddSingleton<Sessions>();
        services.AddSingleton<Members>();
        services.AddSingleton<MyAccount>();
        services.AddSingleton<SecurityEvents>();
        services.AddSingleton(sp => new IdentityFeatures(
            sp.GetRequiredService<Features.SignUp>(), sp.GetRequiredService<Sessions>(), sp.GetRequiredService<Members>(),
            sp.GetRequiredService<MyAccount>(), sp.GetRequiredService<SecurityEvents>(), sp.GetRequiredService<SigningKeyRing>()));
        services.AddHostedService<KeyCheck>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddSingleton<ValidatedTokenCache>();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<AccessTokens, ValidatedTokenCache>((bearer, tokens, cache) =>
        {
            bearer.MapInboundClaims = false;
            bearer.UseSecurityTokenValidators = false;
            bearer.TokenHandlers.Clear();
            bearer.TokenHandlers.Add(cache);
            bearer.TokenValidationParameters = tokens.ValidationParameters();
            bearer.Events = new JwtBearerEvents
            {
                OnTokenValidated = CheckNotRevokedAsync,
                OnChallenge = WriteChallengeAsync,
            };
        });
        services.AddMvcCore().AddApplicationPart(typeof(IdentityModule).Assembly);
        return services;
    }

    /// <summary>A signed, unexpired token may still be revoked (sign-out, role change, removal, erasure).</summary>
    private static async Task CheckNotRevokedAsync(TokenValidatedContext context)
    {
        var subject = context.Principal is null ? null : AccessTokens.SubjectOf(context.Principal);
        var jti = context.Principal?.FindFirst(JwtRegisteredClaimNames.Jti)?.Value;
        if (subject is null || jti is null)
        {
            context.Fail("The token does not name a member.");
            return;
        }

        try
        {
            if (await context.HttpContext.RequestServices.GetRequiredService<TokenRevocations>()
                    .IsRevokedAsync(subject.TenantId, jti, subject.MemberId, subject.MembershipVersion, context.HttpContext.RequestAborted).ConfigureAwait(false))
            {
                context.Fail("The token has been revoked.");
            }
        }
        catch (Npgsql.NpgsqlException ex)
        {
            // Fail closed: with neither Redis nor PostgreSQL a revoked token cannot be told from a valid one.
            context.HttpContext.Items[RevocationUnavailable] = true;
            LogRevocationUnavailable(context.HttpContext.RequestServices.GetRequiredService<ILogger<IdentityFeatures>>(), ex);
            context.Fail("Token revocation cannot be checked.");
        }
    }

    private static async Task WriteChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var http = context.HttpContext;
        ProblemType type;
        string detail;
        if (http.Items.ContainsKey(RevocationUnavailable))
        {
            type = ProblemTypes.ServiceUnavailable;
            detail = "Sign-in state cannot be checked right now.";
            http.Response.Headers.RetryAfter = "5";
        }
        else
        {
            type = ProblemTypes.Unauthenticated;
            var presented = context.AuthenticateFailure is not null;
            detail = presented
                ? "The access token is not valid: it is malformed, expired, not yet valid, revoked, or not issued by Canopy for this API."
                : "This operation needs an access token (Authorization: Bearer …).";
            http.Response.Headers.WWWAuthenticate = presented ? "Bearer error=\"invalid_token\"" : "Bearer";
        }

        var result = ProblemFactory.Result(http, type, detail);
        await result.ExecuteResultAsync(new ActionContext { HttpContext = http, RouteData = new(), ActionDescriptor = new() }).ConfigureAwait(false);
    }

    /// <summary>Reads the keys when the service starts: a missing or malformed key stops it before it listens.</summary>
    private sealed class KeyCheck(SigningKeyRing signing, PiiProtector pii) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = signing;
            _ = pii;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Access-token revocation could be checked neither in Redis nor in PostgreSQL; the request is refused.")]
    private static partial void LogRevocationUnavailable(ILogger logger, Exception exception);
}
