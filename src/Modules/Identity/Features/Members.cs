using System.Net;
using Canopy.Contracts;
using Canopy.Identity.Audit;
using Canopy.Identity.Domain;
using Canopy.Identity.Security;
using Canopy.Platform.Data;
using Canopy.Platform.Messaging;
using Canopy.Platform.Problems;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Canopy.Platform.Postgres;

namespace Canopy.Identity.Features;

/// <summary>The members of an organisation: list, invite, accept an invitation, change role, remove.</summary>
internal sealed class Members(
    IdentityDatabase database,
    PiiProtector pii,
    PasswordHasher passwords,
    TokenRevocations revocations,
    AccessTokens accessTokens,
    MessageWriter messages,
    CursorCodec cursors,
    SecurityLog log,
    IOptions<IdentityOptions> options,
    TimeProvider time)
{
    public const string InvitationCreatedEvent = "invitation.created";
    private const string InvitationPrefix = "inv_";
    private static readonly string ListFilters = CursorCodec.HashFilters(("list", "members"));

    public async Task<MemberPage> ListAsync(AccessTokenSubject caller, string? cursor, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var after = cursor is null ? (Guid?)null : Guid.Parse(cursors.Decode(cursor, ListFilters).After[0]);
        await using var tx = await database.BeginAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        await using var command = tx.Command("""
            SELECT m.id, m.user_id, m.role, u.display_name_cipher, m.joined_at
            FROM identity.memberships m JOIN identity.users u ON u.id = m.user_id
            WHERE NOT m.is_deleted AND ($1::uuid IS NULL OR m.id > $1)
            ORDER BY m.id LIMIT $2
            """, PostgresTransaction.Nullable(after, NpgsqlDbType.Uuid), limit + 1);
        var members = new List<Member>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                members.Add(ReadMember(reader));
            }
        }

        var hasMore = members.Count > limit;
        var page = members.Take(limit).ToList();
        return new MemberPage
        {
            Data = page,
            Has_more = hasMore,
            Next_cursor = hasMore ? cursors.Encode(new CursorPosition([page[^1].Id.ToString()]), ListFilters) : null,
        };
    }

    public async Task<Invitation> InviteAsync(AccessTokenSubject caller, InviteMemberRequest request, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        var role = RoleContract.FromContract(request.Role);
        Require(new CannotActAboveOwnRoleRule(caller.Role, role), ProblemTypes.Forbidden);
        var index = pii.EmailIndex(request.Email);
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        var token = OpaqueTokens.New(InvitationPrefix);
        var expires = now.AddDays(options.Value.InvitationDays);
        var email = request.Email.Trim();
        await using var tx = await database.ChangeAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        // Only the caller's own organisation is consulted: whether the address has an account
        // elsewhere is not theirs to learn (accepting then answers 409 to the invitee alone).
        await using (var member = tx.Command("SELECT 1 FROM identity.users WHERE email_index = $1", new NpgsqlParameter { Value = index, NpgsqlDbType = NpgsqlDbType.Bytea }))
        {
            if (await member.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
            {
                throw new ProblemException(ProblemTypes.Conflict, "This address already belongs to a member of your organisation.",
                    [new FieldError("Already a member.", Pointer: "#/email")]);
            }
        }

        await tx.ExecuteAsync("""
            INSERT INTO identity.invitations (id, tenant_id, email_index, email_cipher, role, token_hash, expires_at, created_at, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """,
            cancellationToken, id, caller.TenantId,
            new NpgsqlParameter { Value = index, NpgsqlDbType = NpgsqlDbType.Bytea },
            new NpgsqlParameter { Value = pii.Encrypt(email), NpgsqlDbType = NpgsqlDbType.Bytea },
            role.Name(),
            new NpgsqlParameter { Value = OpaqueTokens.Hash(token), NpgsqlDbType = NpgsqlDbType.Bytea },
            expires, now, caller.UserId).ConfigureAwait(false);
        // Delivery (an e-mail with the link) happens from the outbox; the address and the token
        // travel encrypted, so the outbox table never holds them in clear.
        await messages.AppendEventAsync(tx.Connection, tx.Transaction, InvitationCreatedEvent, 1, new
        {
            invitation_id = id,
            role = role.Name(),
            expires_at = expires,
            email_cipher = pii.Encrypt(email),
            token_cipher = pii.Encrypt(token),
        }, caller.TenantId, id, cancellationToken).ConfigureAwait(false);
        await log.AppendAsync(tx.Connection, tx.Transaction, caller.TenantId, SecurityEventKinds.InvitationCreated, caller.UserId, null, address, cancellationToken,
            new { invitation = id, role = role.Name() }).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new Invitation { Id = id, Email = email, Role = request.Role, Expires_at = expires };
    }

    public async Task<Member> AcceptAsync(AcceptInvitationRequest request, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var tokenHash = OpaqueTokens.Hash(request.Token);
        if (await database.TenantOfAsync("invitation", tokenHash, cancellationToken).ConfigureAwait(false) is not { } tenant)
        {
            throw InvitationUnusable();
        }

        // Read and hash first, outside the locking transaction (Argon2 holds no lock or connection).
        var invitation = await ReadInvitationAsync(tenant, tokenHash, locking: false, cancellationToken).ConfigureAwait(false);
        if (invitation is null || invitation.Accepted || time.GetUtcNow() >= invitation.ExpiresAt)
        {
            throw InvitationUnusable();
        }

        Passwords.Require(new PasswordMustBeStrongRule(request.Password, invitation.Email));
        var passwordHash = await passwords.HashAsync(request.Password, cancellationToken).ConfigureAwait(false);

        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(tenant, cancellationToken).ConfigureAwait(false);
        // Spent once: the row lock makes a second acceptance wait, then find it accepted.
        var locked = await ReadInvitationAsync(tx, tokenHash, locking: true, cancellationToken).ConfigureAwait(false);
        if (locked is null || locked.Accepted || now >= locked.ExpiresAt)
        {
            throw InvitationUnusable();
        }

        var (invitationId, email, role) = (locked.Id, locked.Email, locked.Role);
        var userId = Guid.CreateVersion7(now);
        var memberId = Guid.CreateVersion7(now);
        try
        {
            await Users.InsertAsync(tx, pii, userId, tenant, email, request.Display_name, passwordHash, now, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (IdentityDatabase.IsUniqueViolation(ex, Users.EmailIndexConstraint))
        {
            throw Users.EmailTaken();
        }

        await tx.ExecuteAsync(
            "INSERT INTO identity.memberships (id, tenant_id, user_id, role, joined_at, created_at, updated_at, created_by) VALUES ($1, $2, $3, $4, $5, $5, $5, $3)",
            cancellationToken, memberId, tenant, userId, role.Name(), now).ConfigureAwait(false);
        await tx.ExecuteAsync("UPDATE identity.invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1", cancellationToken, invitationId, now, userId).ConfigureAwait(false);
        await log.AppendAsync(tx.Connection, tx.Transaction, tenant, SecurityEventKinds.InvitationAccepted, userId, userId, address, cancellationToken,
            new { invitation = invitationId, role = role.Name() }).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new Member { Id = memberId, User_id = userId, Role = role.ToContract(), Display_name = request.Display_name.Trim(), Joined_at = now };
    }

    public async Task<Member> ChangeRoleAsync(AccessTokenSubject caller, Guid memberId, Role newRole, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var role = RoleContract.FromContract(newRole);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        await IdentityDatabase.LockTenantAsync(tx, caller.TenantId, cancellationToken).ConfigureAwait(false);
        var target = await FindAsync(tx, memberId, cancellationToken).ConfigureAwait(false) ?? throw MemberNotFound();
        Require(new OrganisationKeepsAnOwnerRule(target.Role, role, await IdentityDatabase.OwnerCountAsync(tx, cancellationToken).ConfigureAwait(false)), ProblemTypes.Conflict);
        if (target.Role == role)
        {
            return target.ToContract();
        }

        var version = target.Version + 1;
        await tx.ExecuteAsync("UPDATE identity.memberships SET role = $2, version = $3, updated_at = $4 WHERE id = $1",
            cancellationToken, memberId, role.Name(), version, now).ConfigureAwait(false);
        // Before the commit: if Redis cannot take the note, nothing changes (the old role's tokens
        // must stop). Before the log entry too, whose tenant-wide lock must not wait on Redis.
        await revocations.RequireMembershipVersionAsync(memberId, version, accessTokens.Lifetime).ConfigureAwait(false);
        await log.AppendAsync(tx.Connection, tx.Transaction, caller.TenantId, SecurityEventKinds.RoleChanged, caller.UserId, target.UserId, address, cancellationToken,
            new { from = target.Role.Name(), to = role.Name() }).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (target with { Role = role, Version = version }).ToContract();
    }

    public async Task RemoveAsync(AccessTokenSubject caller, Guid memberId, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        await IdentityDatabase.LockTenantAsync(tx, caller.TenantId, cancellationToken).ConfigureAwait(false);
        var target = await FindAsync(tx, memberId, cancellationToken).ConfigureAwait(false) ?? throw MemberNotFound();
        Require(new CannotActAboveOwnRoleRule(caller.Role, target.Role), ProblemTypes.Forbidden);
        Require(new OrganisationKeepsAnOwnerRule(target.Role, null, await IdentityDatabase.OwnerCountAsync(tx, cancellationToken).ConfigureAwait(false)), ProblemTypes.Conflict);
        await EndMembershipAsync(tx, target, now, cancellationToken).ConfigureAwait(false);
        await revocations.RequireMembershipVersionAsync(memberId, target.Version + 1, accessTokens.Lifetime).ConfigureAwait(false);
        await log.AppendAsync(tx.Connection, tx.Transaction, caller.TenantId, SecurityEventKinds.MemberRemoved, caller.UserId, target.UserId, address, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<InvitationRecord?> ReadInvitationAsync(Guid tenant, byte[] tokenHash, bool locking, CancellationToken cancellationToken)
    {
        await using var tx = await database.BeginAsync(tenant, cancellationToken).ConfigureAwait(false);
        return await ReadInvitationAsync(tx, tokenHash, locking, cancellationToken).ConfigureAwait(false);
    }

    private async Task<InvitationRecord?> ReadInvitationAsync(PostgresTransaction tx, byte[] tokenHash, bool locking, CancellationToken cancellationToken)
    {
        await using var command = tx.Command(
            "SELECT id, email_cipher, role, expires_at, accepted_at IS NOT NULL FROM identity.invitations WHERE token_hash = $1" + (locking ? " FOR UPDATE" : ""),
            new NpgsqlParameter { Value = tokenHash, NpgsqlDbType = NpgsqlDbType.Bytea });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new InvitationRecord(reader.GetGuid(0), pii.Decrypt((byte[])reader[1]), MemberRoles.Parse(reader.GetString(2)),
                reader.GetFieldValue<DateTimeOffset>(3), reader.GetBoolean(4))
            : null;
    }

    private sealed record InvitationRecord(Guid Id, string Email, MemberRole Role, DateTimeOffset ExpiresAt, bool Accepted);

    /// <summary>Soft-deletes the membership and ends every refresh token of its user.</summary>
    public static async Task EndMembershipAsync(PostgresTransaction tx, MemberRecord target, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        await tx.ExecuteAsync("UPDATE identity.memberships SET is_deleted = true, version = version + 1, updated_at = $2 WHERE id = $1",
            cancellationToken, target.Id, now).ConfigureAwait(false);
        await Sessions.RevokeAllOfUserAsync(tx, target.UserId, now, cancellationToken).ConfigureAwait(false);
    }

    public async Task<MemberRecord?> FindAsync(PostgresTransaction tx, Guid memberId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command("""
            SELECT m.id, m.user_id, m.role, u.display_name_cipher, m.joined_at, m.version
            FROM identity.memberships m JOIN identity.users u ON u.id = m.user_id
            WHERE m.id = $1 AND NOT m.is_deleted
            FOR UPDATE OF m
            """, memberId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new MemberRecord(reader.GetGuid(0), reader.GetGuid(1), MemberRoles.Parse(reader.GetString(2)),
                pii.Decrypt((byte[])reader[3]), reader.GetFieldValue<DateTimeOffset>(4), reader.GetInt32(5))
            : null;
    }

    private Member ReadMember(NpgsqlDataReader reader) => new()
    {
        Id = reader.GetGuid(0),
        User_id = reader.GetGuid(1),
        Role = MemberRoles.Parse(reader.GetString(2)).ToContract(),
        Display_name = pii.Decrypt((byte[])reader[3]),
        Joined_at = reader.GetFieldValue<DateTimeOffset>(4),
    };

    private static void Require(IBusinessRule rule, ProblemType type)
    {
        if (rule.IsBroken())
        {
            throw new ProblemException(type, rule.Message);
        }
    }

    private static ProblemException MemberNotFound() => new(ProblemTypes.NotFound, "No member with this id exists in your organisation.");

    private static ProblemException InvitationUnusable() =>
        new(ProblemTypes.Gone, "This invitation cannot be used: it is unknown, already accepted or expired.");
}

/// <summary>A membership as stored, with its user's decrypted name.</summary>
internal sealed record MemberRecord(Guid Id, Guid UserId, MemberRole Role, string DisplayName, DateTimeOffset JoinedAt, int Version)
{
    public Member ToContract() => new() { Id = Id, User_id = UserId, Role = Role.ToContract(), Display_name = DisplayName, Joined_at = JoinedAt };
}
