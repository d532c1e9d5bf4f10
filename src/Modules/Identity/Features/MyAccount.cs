using System.Net;
using Canopy.Contracts;
using Canopy.Identity.Audit;
using Canopy.Identity.Domain;
using Canopy.Identity.Security;
using Canopy.Platform.Problems;
using Canopy.Platform.Postgres;

namespace Canopy.Identity.Features;

/// <summary>The caller's own account: who I am, what Canopy holds about me, and erasing it.</summary>
internal sealed class MyAccount(
    IdentityDatabase database,
    PiiProtector pii,
    Members members,
    TokenRevocations revocations,
    AccessTokens accessTokens,
    SecurityLog log,
    TimeProvider time)
{
    public async Task<Me> GetAsync(AccessTokenSubject caller, CancellationToken cancellationToken)
    {
        await using var tx = await database.BeginAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        return (await ReadAsync(tx, caller, cancellationToken).ConfigureAwait(false)).Me;
    }

    public async Task<MyData> ExportAsync(AccessTokenSubject caller, CancellationToken cancellationToken)
    {
        await using var tx = await database.BeginAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        var (me, createdAt) = await ReadAsync(tx, caller, cancellationToken).ConfigureAwait(false);
        var sessions = new List<Session>();
        await using (var command = tx.Command(
            "SELECT created_at, expires_at, used_at IS NOT NULL OR revoked_at IS NOT NULL FROM identity.refresh_tokens WHERE user_id = $1 ORDER BY created_at",
            caller.UserId))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                sessions.Add(new Session { Created_at = reader.GetFieldValue<DateTimeOffset>(0), Expires_at = reader.GetFieldValue<DateTimeOffset>(1), Revoked = reader.GetBoolean(2) });
            }
        }

        var events = new List<SecurityEvent>();
        await using (var command = tx.Command(
            "SELECT id, kind, occurred_at, actor_id, subject_id FROM identity.security_events WHERE actor_id = $1 OR subject_id = $1 ORDER BY seq",
            caller.UserId))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                events.Add(SecurityEvents.Read(reader));
            }
        }

        return new MyData { Exported_at = time.GetUtcNow(), User = me, Created_at = createdAt, Sessions = sessions, Security_events = events };
    }

    /// <summary>
    /// Overwrites the personal data (the row keeps only its id, which the security log uses as a
    /// pseudonym), ends the membership and every session, and blocks the current access token.
    /// </summary>
    public async Task EraseAsync(AccessTokenSubject caller, string jti, DateTimeOffset accessExpires, IPAddress? address, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        await IdentityDatabase.LockTenantAsync(tx, caller.TenantId, cancellationToken).ConfigureAwait(false);
        var membership = await members.FindAsync(tx, caller.MemberId, cancellationToken).ConfigureAwait(false)
            ?? throw new ProblemException(ProblemTypes.Unauthenticated, "This account no longer exists.");
        var rule = new OrganisationKeepsAnOwnerRule(membership.Role, null, await IdentityDatabase.OwnerCountAsync(tx, cancellationToken).ConfigureAwait(false));
        if (rule.IsBroken())
        {
            throw new ProblemException(ProblemTypes.Conflict, rule.Message);
        }

        await Members.EndMembershipAsync(tx, membership, now, cancellationToken).ConfigureAwait(false);
        // The invitations that carried the address go too (the one accepted and any still open).
        await tx.ExecuteAsync("""
            DELETE FROM identity.invitations
             WHERE accepted_by = $1 OR email_index = (SELECT email_index FROM identity.users WHERE id = $1)
            """, cancellationToken, caller.UserId).ConfigureAwait(false);
        await tx.ExecuteAsync("""
            UPDATE identity.users SET status = 'ERASED', email_index = NULL, email_cipher = NULL, display_name_cipher = NULL,
                password_hash = NULL, failed_logins = 0, first_failure_at = NULL, locked_until = NULL, updated_at = $2, version = version + 1
            WHERE id = $1
            """, cancellationToken, caller.UserId, now).ConfigureAwait(false);
        await revocations.RequireMembershipVersionAsync(caller.MemberId, membership.Version + 1, accessTokens.Lifetime).ConfigureAwait(false);
        await revocations.BlockTokenAsync(tx, caller.TenantId, jti, accessExpires, now, cancellationToken).ConfigureAwait(false);
        await log.AppendAsync(tx.Connection, tx.Transaction, caller.TenantId, SecurityEventKinds.Erased, caller.UserId, caller.UserId, address, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<(Me Me, DateTimeOffset CreatedAt)> ReadAsync(PostgresTransaction tx, AccessTokenSubject caller, CancellationToken cancellationToken)
    {
        await using var command = tx.Command("""
            SELECT u.email_cipher, u.display_name_cipher, m.role, t.name, u.created_at
            FROM identity.memberships m
            JOIN identity.users u ON u.id = m.user_id AND u.status = 'ACTIVE'
            JOIN identity.tenants t ON t.id = m.tenant_id
            WHERE m.id = $1 AND m.user_id = $2 AND NOT m.is_deleted
            """, caller.MemberId, caller.UserId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new ProblemException(ProblemTypes.Unauthenticated, "This account no longer exists.");
        }

        var me = new Me
        {
            User_id = caller.UserId,
            Member_id = caller.MemberId,
            Tenant_id = caller.TenantId,
            Organization_name = reader.GetString(3),
            Email = pii.Decrypt((byte[])reader[0]),
            Display_name = pii.Decrypt((byte[])reader[1]),
            Role = MemberRoles.Parse(reader.GetString(2)).ToContract(),
        };
        return (me, reader.GetFieldValue<DateTimeOffset>(4));
    }
}
