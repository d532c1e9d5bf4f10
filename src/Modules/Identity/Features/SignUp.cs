using System.Net;
using Canopy.Contracts;
using Canopy.Identity.Audit;
using Canopy.Identity.Domain;
using Canopy.Identity.Security;
using Canopy.Platform.Problems;
using Npgsql;
using NpgsqlTypes;
using Canopy.Platform.Postgres;

namespace Canopy.Identity.Features;

/// <summary>Creates an organisation and its owner in one transaction.</summary>
internal sealed class SignUp(IdentityDatabase database, PiiProtector pii, PasswordHasher passwords, SecurityLog log, TimeProvider time)
{
    public async Task<SignUpResult> HandleAsync(SignUpRequest request, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Passwords.Require(new PasswordMustBeStrongRule(request.Password, request.Email));
        var hash = await passwords.HashAsync(request.Password, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var tenantId = Guid.CreateVersion7(now);
        var userId = Guid.CreateVersion7(now);
        var memberId = Guid.CreateVersion7(now);
        var name = request.Organization_name.Trim();

        await using var tx = await database.ChangeAsync(tenantId, cancellationToken).ConfigureAwait(false);
        try
        {
            await tx.ExecuteAsync(
                "INSERT INTO identity.tenants (id, name, created_at, updated_at, created_by) VALUES ($1, $2, $3, $3, $4)",
                cancellationToken, tenantId, name, now, userId).ConfigureAwait(false);
            await Users.InsertAsync(tx, pii, userId, tenantId, request.Email, request.Display_name, hash, now, cancellationToken).ConfigureAwait(false);
            await tx.ExecuteAsync(
                "INSERT INTO identity.memberships (id, tenant_id, user_id, role, joined_at, created_at, updated_at, created_by) VALUES ($1, $2, $3, 'owner', $4, $4, $4, $3)",
                cancellationToken, memberId, tenantId, userId, now).ConfigureAwait(false);
            await log.AppendAsync(tx.Connection, tx.Transaction, tenantId, SecurityEventKinds.SignedUp, userId, userId, address, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (IdentityDatabase.IsUniqueViolation(ex, Users.EmailIndexConstraint))
        {
            throw Users.EmailTaken();
        }

        return new SignUpResult { Tenant_id = tenantId, Organization_name = name, User_id = userId, Member_id = memberId, Role = Role.Owner };
    }
}

/// <summary>Writing a user row: personal data encrypted, e-mail findable only through its blind index.</summary>
internal static class Users
{
    public const string EmailIndexConstraint = "users_email_index_key";

    public static Task InsertAsync(
        PostgresTransaction tx, PiiProtector pii, Guid userId, Guid tenantId, string email, string displayName,
        string passwordHash, DateTimeOffset now, CancellationToken cancellationToken) =>
        tx.ExecuteAsync("""
            INSERT INTO identity.users (id, tenant_id, email_index, email_cipher, display_name_cipher, password_hash, created_at, updated_at, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $1)
            """,
            cancellationToken, userId, tenantId,
            new NpgsqlParameter { Value = pii.EmailIndex(email), NpgsqlDbType = NpgsqlDbType.Bytea },
            new NpgsqlParameter { Value = pii.Encrypt(email.Trim()), NpgsqlDbType = NpgsqlDbType.Bytea },
            new NpgsqlParameter { Value = pii.Encrypt(displayName.Trim()), NpgsqlDbType = NpgsqlDbType.Bytea },
            passwordHash, now);

    public static ProblemException EmailTaken() =>
        new(ProblemTypes.Conflict, "An account with this e-mail address already exists.", [new FieldError("This e-mail address already has an account.", Pointer: "#/email")]);
}

internal static class Passwords
{
    public static void Require(PasswordMustBeStrongRule rule)
    {
        if (rule.IsBroken())
        {
            throw new ProblemException(ProblemTypes.ValidationFailed, rule.Message, [new FieldError(rule.Message, Pointer: "#/password")]);
        }
    }
}
