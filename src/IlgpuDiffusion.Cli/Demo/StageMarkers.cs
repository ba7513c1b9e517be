using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>What a finished stage left behind.</summary>
/// <param name="Stage">The stage's name.</param>
/// <param name="Settings">The run's settings (<see cref="StageMarkers.Settings"/>) the stage ran under.</param>
/// <param name="Seconds">Wall time of the stage.</param>
/// <param name="FinishedUtc">When it finished.</param>
/// <param name="Detail">What later stages need to know, e.g. the prepared corpus's folder; null when nothing.</param>
internal sealed record StageMarker(string Stage, string Settings, double Seconds, DateTime FinishedUtc, string? Detail);

/// <summary>
/// The markers of finished stages, <c>stages/{stage}.json</c>, each written (through a temporary file) only after
/// the stage's outputs are complete. A marker counts only for the settings it was written under, so a demo rerun with
/// other settings in the same folder starts over; rerunning a stage removes the markers of it and every later stage.
/// </summary>
internal sealed class StageMarkers(DemoLayout layout, string settings)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The settings that markers must match: the preset (its name and a hash of every size in it), data source and seed.</summary>
    public static string Settings(DemoPreset preset, string? data, ulong seed)
    {
        string sizes = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(preset.ToString())))[..12];
        return $"preset {preset.Name} ({sizes}); data {(data is null ? "embedded" : Path.GetFullPath(data))}; seed {seed}";
    }

    /// <summary>The marker of <paramref name="stage"/> when it finished under these settings; otherwise null.</summary>
    public StageMarker? Finished(DemoStage stage)
    {
        string path = layout.Marker(stage);
        if (!File.Exists(path)) return null;
        try
        {
            StageMarker? marker = JsonSerializer.Deserialize<StageMarker>(File.ReadAllText(path), Json);
            return marker?.Settings == settings ? marker : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Records that <paramref name="stage"/> finished after <paramref name="seconds"/>.</summary>
    public StageMarker Write(DemoStage stage, double seconds, string? detail = null)
    {
        var marker = new StageMarker(stage.Name(), settings, seconds, DateTime.UtcNow, detail);
        Directory.CreateDirectory(layout.StagesFolder);
        string path = layout.Marker(stage);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(marker, Json));
        return marker;
    }

    /// <summary>Removes the markers of <paramref name="stage"/> and every later stage.</summary>
    public void ClearFrom(DemoStage stage)
    {
        if (!Directory.Exists(layout.StagesFolder)) return;
        foreach (DemoStage later in DemoStages.All.Where(s => s >= stage))
            File.Delete(layout.Marker(later));
    }
}
