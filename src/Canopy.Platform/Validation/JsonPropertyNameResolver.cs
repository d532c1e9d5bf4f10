using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json.Serialization;

namespace Canopy.Platform.Validation;

/// <summary>
/// Makes FluentValidation name members by their JSON names (the generated DTOs carry
/// <see cref="JsonPropertyNameAttribute"/>), so errors point at what the client sent.
/// </summary>
public static class JsonPropertyNameResolver
{
    public static string? Resolve(Type type, MemberInfo? member, LambdaExpression? expression)
    {
        if (expression?.Body is MemberExpression chain)
        {
            var names = new Stack<string>();
            for (Expression? e = chain; e is MemberExpression m; e = m.Expression)
            {
                names.Push(NameOf(m.Member));
            }

            return string.Join('.', names);
        }

        return member is null ? null : NameOf(member);
    }

    private static string NameOf(MemberInfo member) =>
        member.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy(member.Name);

    private static string JsonNamingPolicy(string name) =>
        System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
}
