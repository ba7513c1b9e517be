using System.Text.Encodings.Web;
using System.Text.Json;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Files;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>One unconditional sample shown in the report.</summary>
/// <param name="Model">Row label of the model that drew it.</param>
/// <param name="Steps">Its sampling steps.</param>
/// <param name="Text">The decoded text, without the [BOS] … [EOS] frame.</param>
internal sealed record DemoSample(string Model, int Steps, string Text);

/// <summary>
/// The samples the report shows so a reader can judge the text itself: the teacher at the most and the fewest steps and
/// the last student at its own (fewest) steps, drawn with the same seed. Saved as <c>samples.json</c>.
/// </summary>
internal static class DemoSamples
{
    /// <summary>Samples per model and step count.</summary>
    public const int PerModel = 3;

    /// <summary>Seed of the shown samples (not the evaluation's, so they are fresh draws).</summary>
    public const ulong Seed = 7;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Draws the samples: <paramref name="models"/> holds the teacher first and the students in round order;
    /// <paramref name="steps"/> the evaluated step counts, ascending.
    /// </summary>
    public static IReadOnlyList<DemoSample> Draw(IReadOnlyList<DiffusionSubject> models, IReadOnlyList<int> steps,
        CancellationToken cancellationToken = default)
    {
        var picks = new List<(DiffusionSubject Subject, int Steps)> { (models[0], steps[^1]), (models[0], steps[0]) };
        if (models.Count > 1) picks.Add((models[^1], steps[0]));
        var samples = new List<DemoSample>();
        foreach ((DiffusionSubject subject, int n) in picks)
        {
            var options = new SamplerOptions { Steps = n, BatchSize = PerModel, Seed = Seed };
            using var sampler = new DiffusionSampler(subject.Model, options);
            SamplingResult result = sampler.Sample(cancellationToken: cancellationToken);
            Tokenizer tokenizer = Tokenizer.FromName(subject.Model.Config.Tokenizer);
            for (int i = 0; i < result.BatchSize; i++)
                samples.Add(new DemoSample(subject.Name, n, SampleText.Decode(result.Sequence(i), tokenizer)));
        }
        return samples;
    }

    /// <summary>Writes <paramref name="samples"/> to <paramref name="path"/> through a temporary file.</summary>
    public static void Save(IReadOnlyList<DemoSample> samples, string path)
    {
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(samples, Json));
    }

    /// <summary>The samples saved at <paramref name="path"/>, or none without the file (a run from before samples were saved).</summary>
    /// <exception cref="InvalidDataException">The file is not a list of samples.</exception>
    public static IReadOnlyList<DemoSample> Load(string path)
    {
        if (!File.Exists(path)) return [];
        try
        {
            return JsonSerializer.Deserialize<List<DemoSample>>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path} holds no samples.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a list of samples: {e.Message}", e);
        }
    }
}
