using System.Text.Json;
using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>A <see cref="LatencyReport"/> as an indented camelCase JSON file, written through a temporary file.</summary>
internal static class LatencyFile
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Writes <paramref name="report"/> to <paramref name="path"/>.</summary>
    public static void Save(LatencyReport report, string path)
    {
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, Json));
    }

    /// <summary>Reads a report written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a latency report.</exception>
    public static LatencyReport Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<LatencyReport>(File.ReadAllText(path), Json) is { Measurements: not null } report
                ? report
                : throw new InvalidDataException($"{path} is not a latency report; rerun the demo with --from evaluate.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a latency report ({e.Message}); rerun the demo with --from evaluate.", e);
        }
    }
}
