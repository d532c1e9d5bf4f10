using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc.ModelBinding;

namespace Canopy.Platform.Validation;

/// <summary>
/// Binds the generated enums from the query, the path and headers by their spec names (their
/// JsonStringEnumMemberName: <c>1h</c>, <c>temperature_c</c>), exactly as the JSON of a body
/// reads them; the framework's binder knows only the C# member names (<c>_1h</c>).
/// </summary>
public sealed class SpecEnumModelBinderProvider : IModelBinderProvider
{
    public IModelBinder? GetBinder(ModelBinderProviderContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var type = Nullable.GetUnderlyingType(context.Metadata.ModelType) ?? context.Metadata.ModelType;
        if (!type.IsEnum || context.BindingInfo.BindingSource == BindingSource.Body)
        {
            return null;
        }

        var fields = type.GetFields(BindingFlags.Public | BindingFlags.Static);
        return fields.Any(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>() is not null)
            ? new SpecEnumModelBinder(fields.ToFrozenDictionary(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name, f => f.GetValue(null)!, StringComparer.Ordinal))
            : null;
    }

    private sealed class SpecEnumModelBinder(FrozenDictionary<string, object> values) : IModelBinder
    {
        public Task BindModelAsync(ModelBindingContext bindingContext)
        {
            ArgumentNullException.ThrowIfNull(bindingContext);
            var sent = bindingContext.ValueProvider.GetValue(bindingContext.ModelName);
            if (sent == ValueProviderResult.None)
            {
                return Task.CompletedTask;
            }

            bindingContext.ModelState.SetModelValue(bindingContext.ModelName, sent);
            if (sent.FirstValue is { } text && values.TryGetValue(text, out var value))
            {
                bindingContext.Result = ModelBindingResult.Success(value);
            }
            else
            {
                bindingContext.ModelState.TryAddModelError(bindingContext.ModelName,
                    bindingContext.ModelMetadata.ModelBindingMessageProvider.ValueIsInvalidAccessor(sent.FirstValue ?? ""));
            }

            return Task.CompletedTask;
        }
    }
}
