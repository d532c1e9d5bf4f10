using System.Linq.Expressions;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace Canopy.Platform.Data;

/// <summary>Mapping conventions shared by every module's DbContext.</summary>
public static class CanopyModelConventions
{
    /// <summary>
    /// snake_case table and column names, <c>timestamptz</c> times, the soft-delete filter and
    /// the version concurrency token on every <see cref="AuditedEntity"/>.
    /// </summary>
    public static ModelBuilder ApplyCanopyConventions(this ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            if (entity.GetTableName() is { } table)
            {
                entity.SetTableName(SnakeCase(table));
            }

            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
                if (property.ClrType == typeof(DateTimeOffset) || property.ClrType == typeof(DateTimeOffset?))
                {
                    property.SetColumnType("timestamp with time zone");
                }
            }

            if (typeof(AuditedEntity).IsAssignableFrom(entity.ClrType) && entity.BaseType is null)
            {
                var builder = modelBuilder.Entity(entity.ClrType);
                builder.Property(nameof(AuditedEntity.Id)).ValueGeneratedNever();
                builder.Property(nameof(AuditedEntity.Version)).IsConcurrencyToken();
                var row = Expression.Parameter(entity.ClrType, "row");
                var notDeleted = Expression.Lambda(Expression.Not(Expression.Property(row, nameof(AuditedEntity.IsDeleted))), row);
                builder.HasQueryFilter(notDeleted);
            }
        }

        return modelBuilder;
    }

    public static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
}
