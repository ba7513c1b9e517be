using System.Text.Json;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>How the server reads and writes JSON: OpenAI's snake_case field names.</summary>
internal static class ServingJson
{
    /// <summary>The serializer options of every request and answer body.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };
}
