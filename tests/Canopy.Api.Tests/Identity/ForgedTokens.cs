using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace Canopy.Api.Tests.Identity;

/// <summary>Builds JWTs by hand, so each test can break exactly one thing about a real token.</summary>
internal static class ForgedTokens
{
    public static (JsonObject Header, JsonObject Payload) Parts(string token)
    {
        var parts = token.Split('.');
        return (JsonNode.Parse(WebEncoders.Base64UrlDecode(parts[0]))!.AsObject(), JsonNode.Parse(WebEncoders.Base64UrlDecode(parts[1]))!.AsObject());
    }

    public static string SignEs256(JsonObject header, JsonObject payload, ECDsa key)
    {
        var input = Encode(header) + "." + Encode(payload);
        return input + "." + WebEncoders.Base64UrlEncode(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    public static string SignHs256(JsonObject header, JsonObject payload, byte[] secret)
    {
        var input = Encode(header) + "." + Encode(payload);
        return input + "." + WebEncoders.Base64UrlEncode(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
    }

    public static string Unsigned(JsonObject header, JsonObject payload) => Encode(header) + "." + Encode(payload) + ".";

    public static string Encode(JsonNode node) => WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(node.ToJsonString()));

    public static JsonObject With(JsonObject node, string name, JsonNode? value)
    {
        var copy = JsonNode.Parse(node.ToJsonString())!.AsObject();
        copy[name] = value;
        return copy;
    }

    public static long Claim(JsonObject payload, string name) => payload[name]!.GetValue<long>();

    public static string Json(JsonObject node) => node.ToJsonString(new JsonSerializerOptions());
}
