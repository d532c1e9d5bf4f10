using System.Net;
using Canopy.Contracts;
using Canopy.Identity.Audit;
using Canopy.Identity.Domain;
using Canopy.Identity.Security;
using Canopy.Platform.Problems;
using Microsoft.Extensions.Options;
using NpgsqlTypes;
using Canopy.Platform.Postgres;

namespace Canopy.Identity.Features;

/// <summary>Sign-in, refresh-token rotation with reuse detection, and sign-out.</summary>
internal sealed class Sessions(
    IdentityDatabase database,
    PiiProtector pii,
    PasswordHasher passwords,
    AccessTokens accessTokens,
    TokenRevocations revocations,
    SecurityLog log,
    IOptions<IdentityOptions> options,
    TimeProvider time)
{
    private const string RefreshPrefix = "rt_";

    // One answer for an unknown e-mail, a wrong password and a locked account: no enumeration.
    private const string SignInFailed = "The e-mail address or the password is wrong, or the account is temporarily locked after repeated failures.";

    private LockoutPolicy Lockout => new(
        options.Value.Lockout.MaxFailures,
        TimeSpan.FromMinutes(options.Value.Lockout.WindowMinutes),
        TimeSpan.FromMinutes(options.Value.Lockout.LockMinutes));

    public async Task<TokenResponse> IssueAsync(IssueTokensRequest request, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var index = pii.EmailIndex(request.Email);
        var tenant = await database.TenantOfAsync("email", index, cancellationToken).ConfigureAwait(false);
        var account = tenant is { } t ? await ReadAccountAsync(t, index, cancellationToken).ConfigureAwait(false) : null;

        // Argon2 runs outside any transaction: no connection or row lock is held while it works.
        // An unknown e-mail and a locked account verify against a decoy, so every answer costs the same.
        var checkable = account is not null && !LockoutPolicy.IsLocked(account.State, time.GetUtcNow());
        var passwordMatches = await passwords.VerifyAsync(checkable ? account!.PasswordHash : null, request.Password, cancellationToken).ConfigureAwait(false);
        var rehash = passwordMatches && passwords.NeedsRehash(account!.PasswordHash)
            ? await passwords.HashAsync(request.Password, cancellationToken).ConfigureAwait(false)
            : null;

        if (account is null)
        {
            // Logged in the chain of failures that match no account: the same work as a wrong password.
            await using var unknown = await database.BeginAsync(null, cancellationToken).ConfigureAwait(false);
            await log.AppendAsync(unknown.Connection, unknown.Transaction, null, SecurityEventKinds.LoginFailed, null, null, address, cancellationToken,
                new { reason = "unknown_account" }).ConfigureAwait(false);
            await unknown.CommitAsync(cancellationToken).ConfigureAwait(false);
            throw SignInRefused();
        }

        // The outcome is settled under the row lock, against the state as it is now, so
        // concurrent attempts on one account are all counted.
        await using var tx = await database.BeginAsync(account.TenantId, cancellationToken).ConfigureAwait(false);
        var current = await ReadAccountAsync(tx, index, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        if (current is null || current.UserId != account.UserId)
        {
            throw SignInRefused();
        }

        if (LockoutPolicy.IsLocked(current.State, now))
        {
            await log.AppendAsync(tx.Connection, tx.Transaction, current.TenantId, SecurityEventKinds.LoginFailed, null, current.UserId, address, cancellationToken,
                new { reason = "locked" }).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            throw SignInRefused();
        }

        if (!passwordMatches || current.PasswordHash != account.PasswordHash || current.Subject is null)
        {
            var next = Lockout.AfterFailure(current.State, now);
            await tx.ExecuteAsync(
                "UPDATE identity.users SET failed_logins = $2, first_failure_at = $3, locked_until = $4 WHERE id = $1",
                cancellationToken, current.UserId, next.Failures,
                PostgresTransaction.Nullable(next.FirstFailureAt, NpgsqlDbType.TimestampTz),
                PostgresTransaction.Nullable(next.LockedUntil, NpgsqlDbType.TimestampTz)).ConfigureAwait(false);
            await log.AppendAsync(tx.Connection, tx.Transaction, current.TenantId, SecurityEventKinds.LoginFailed, null, current.UserId, address, cancellationToken,
                new { reason = current.Subject is null ? "no_membership" : "wrong_password" }).ConfigureAwait(false);
            if (LockoutPolicy.IsLocked(next, now))
            {
                await log.AppendAsync(tx.Connection, tx.Transaction, current.TenantId, SecurityEventKinds.LockedOut, null, current.UserId, address, cancellationToken,
                    new { until = next.LockedUntil }).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            throw SignInRefused();
        }

        await tx.ExecuteAsync(
            "UPDATE identity.users SET failed_logins = 0, first_failure_at = NULL, locked_until = NULL, password_hash = $2 WHERE id = $1",
            cancellationToken, current.UserId, rehash ?? current.PasswordHash).ConfigureAwait(false);
        var refresh = await StoreRefreshTokenAsync(tx, current.Subject, Guid.CreateVersion7(now), request.Device_fingerprint, now, cancellationToken).ConfigureAwait(false);
        await log.AppendAsync(tx.Connection, tx.Transaction, current.TenantId, SecurityEventKinds.LoginSucceeded, current.UserId, current.UserId, address, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Tokens(current.Subject, refresh);
    }

    /// <summary>An account as sign-in needs it, read in a short transaction of its own.</summary>
    private async Task<Account?> ReadAccountAsync(Guid tenant, byte[] index, CancellationToken cancellationToken)
    {
        await using var tx = await database.BeginAsync(tenant, cancellationToken).ConfigureAwait(false);
        return await ReadAccountAsync(tx, index, cancellationToken, locking: false).ConfigureAwait(false);
    }

    private static async Task<Account?> ReadAccountAsync(PostgresTransaction tx, byte[] index, CancellationToken cancellationToken, bool locking = true)
    {
        await using var command = tx.Command($"""
            SELECT u.id, u.tenant_id, u.password_hash, u.failed_logins, u.first_failure_at, u.locked_until, m.id, m.role, m.version
            FROM identity.users u
            LEFT JOIN identity.memberships m ON m.user_id = u.id AND NOT m.is_deleted
            WHERE u.email_index = $1 AND u.status = 'ACTIVE'
            {(locking ? "FOR NO KEY UPDATE OF u" : "")}
            """, new Npgsql.NpgsqlParameter { Value = index, NpgsqlDbType = NpgsqlDbType.Bytea });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var user = reader.GetGuid(0);
        var tenant = reader.GetGuid(1);
        var state = new LockoutState(
            reader.GetInt32(3),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
            reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));
        var subject = reader.IsDBNull(6) ? null : new AccessTokenSubject(user, tenant, reader.GetGuid(6), MemberRoles.Parse(reader.GetString(7)), reader.GetInt32(8));
        return new Account(user, tenant, reader.GetString(2), state, subject);
    }

    private sealed record Account(Guid UserId, Guid TenantId, string PasswordHash, LockoutState State, AccessTokenSubject? Subject);

    public async Task<TokenResponse> RefreshAsync(RefreshTokensRequest request, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var tokenHash = OpaqueTokens.Hash(request.Refresh_token);
        if (await database.TenantOfAsync("refresh_token", tokenHash, cancellationToken).ConfigureAwait(false) is not { } tenant)
        {
            throw RefreshRefused();
        }

        var now = time.GetUtcNow();
        await using var tx = await database.BeginAsync(tenant, cancellationToken).ConfigureAwait(false);
        // The row lock makes two refreshes with one token take turns: the second sees it used.
        await using var command = tx.Command("""
            SELECT rt.id, rt.user_id, rt.family_id, rt.fingerprint_hash, rt.expires_at, rt.used_at, rt.revoked_at
            FROM identity.refresh_tokens rt WHERE rt.token_hash = $1 FOR UPDATE
            """, new Npgsql.NpgsqlParameter { Value = tokenHash, NpgsqlDbType = NpgsqlDbType.Bytea });
        Guid tokenId, userId, familyId;
        byte[]? fingerprint;
        DateTimeOffset expires;
        bool used, revoked;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                throw RefreshRefused();
            }

            tokenId = reader.GetGuid(0);
            userId = reader.GetGuid(1);
            familyId = reader.GetGuid(2);
            fingerprint = reader.IsDBNull(3) ? null : (byte[])reader[3];
            expires = reader.GetFieldValue<DateTimeOffset>(4);
            used = !reader.IsDBNull(5);
            revoked = !reader.IsDBNull(6);
        }

        if (used)
        {
            // A spent token came back: whoever holds the family now may be a thief. End it.
            await RevokeFamilyAsync(tx, familyId, now, cancellationToken).ConfigureAwait(false);
            await log.AppendAsync(tx.Connection, tx.Transaction, tenant, SecurityEventKinds.RefreshReused, null, userId, address, cancellationToken,
                new { family = familyId }).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            throw RefreshRefused();
        }

        if (revoked || now >= expires || !FingerprintMatches(fingerprint, request.Device_fingerprint))
        {
            throw RefreshRefused();
        }

        var subject = await ActiveMemberAsync(tx, userId, tenant, cancellationToken).ConfigureAwait(false) ?? throw RefreshRefused();
        await tx.ExecuteAsync("UPDATE identity.refresh_tokens SET used_at = $2 WHERE id = $1", cancellationToken, tokenId, now).ConfigureAwait(false);
        var refresh = await StoreRefreshTokenAsync(tx, subject, familyId, request.Device_fingerprint, now, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Tokens(subject, refresh);
    }

    /// <summary>Sign-out: the refresh token's family ends and the access token used is blocked until it expires.</summary>
    public async Task RevokeAsync(AccessTokenSubject caller, string jti, DateTimeOffset accessExpires, string refreshToken, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var now = time.GetUtcNow();
        await using var tx = await database.BeginAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        await using var command = tx.Command(
            "SELECT family_id FROM identity.refresh_tokens WHERE token_hash = $1 AND user_id = $2",
            new Npgsql.NpgsqlParameter { Value = OpaqueTokens.Hash(refreshToken), NpgsqlDbType = NpgsqlDbType.Bytea }, caller.UserId);
        // Someone else's refresh token is left alone; the caller's own access token is blocked all the same.
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is Guid family)
        {
            await RevokeFamilyAsync(tx, family, now, cancellationToken).ConfigureAwait(false);
        }

        // Before the commit: if Redis cannot take the note, nothing of the sign-out happens. Before
        // the log entry too, whose tenant-wide lock must not wait on Redis.
        await revocations.BlockTokenAsync(tx, caller.TenantId, jti, accessExpires, now, cancellationToken).ConfigureAwait(false);
        await log.AppendAsync(tx.Connection, tx.Transaction, caller.TenantId, SecurityEventKinds.LoggedOut, caller.UserId, caller.UserId, address, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public static Task RevokeFamilyAsync(PostgresTransaction tx, Guid familyId, DateTimeOffset now, CancellationToken cancellationToken) =>
        tx.ExecuteAsync("UPDATE identity.refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL", cancellationToken, familyId, now);

    public static Task RevokeAllOfUserAsync(PostgresTransaction tx, Guid userId, DateTimeOffset now, CancellationToken cancellationToken) =>
        tx.ExecuteAsync("UPDATE identity.refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", cancellationToken, userId, now);

    private static async Task<AccessTokenSubject?> ActiveMemberAsync(PostgresTransaction tx, Guid userId, Guid tenant, CancellationToken cancellationToken)
    {
        await using var command = tx.Command("""
            SELECT m.id, m.role, m.version FROM identity.memberships m
            JOIN identity.users u ON u.id = m.user_id AND u.status = 'ACTIVE'
            WHERE m.user_id = $1 AND NOT m.is_deleted
            """, userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new AccessTokenSubject(userId, tenant, reader.GetGuid(0), MemberRoles.Parse(reader.GetString(1)), reader.GetInt32(2))
            : null;
    }

    private async Task<string> StoreRefreshTokenAsync(
        PostgresTransaction tx, AccessTokenSubject subject, Guid familyId, string? fingerprint, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var token = OpaqueTokens.New(RefreshPrefix);
        await tx.ExecuteAsync("""
            INSERT INTO identity.refresh_tokens (id, tenant_id, user_id, family_id, token_hash, fingerprint_hash, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            cancellationToken, Guid.CreateVersion7(now), subject.TenantId, subject.UserId, familyId,
            new Npgsql.NpgsqlParameter { Value = OpaqueTokens.Hash(token), NpgsqlDbType = NpgsqlDbType.Bytea },
            PostgresTransaction.Nullable(fingerprint is null ? null : OpaqueTokens.Hash(fingerprint), NpgsqlDbType.Bytea),
            now, now.AddDays(options.Value.RefreshTokenDays)).ConfigureAwait(false);
        return token;
    }

    private bool FingerprintMatches(byte[]? stored, string? presented) =>
        !options.Value.BindRefreshTokensToDevice
        || (stored is not null && presented is not null
            && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(stored, OpaqueTokens.Hash(presented)));

    private TokenResponse Tokens(AccessTokenSubject subject, string refresh) => new()
    {
        Access_token = accessTokens.Issue(subject),
        Token_type = TokenResponseToken_type.Bearer,
        Expires_in = (int)accessTokens.Lifetime.TotalSeconds,
        Refresh_token = refresh,
    };

    private static ProblemException SignInRefused() => new(ProblemTypes.InvalidCredentials, SignInFailed);

    private static ProblemException RefreshRefused() =>
        new(ProblemTypes.Unauthenticated, "This refresh token is not valid: it is unknown, expired, revoked or already used. Sign in again.");
}
