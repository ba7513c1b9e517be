using System.Runtime.CompilerServices;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion;

/// <summary>
/// A masked diffusion language model (MDLM, or an SDTT student) ready to generate text: one call loads it from a checkpoint
/// file, a Hugging Face model folder or a repository id in the local Hugging Face cache (<see cref="ModelSource"/>), and
/// text goes in and out through the model's own tokenizer. Generation runs <see cref="DiffusionSampler"/>, so a seed gives
/// the sampler's ids; a cancelled call stops between denoising steps and leaves the model usable. Disposing frees the model
/// and, when <see cref="Load"/> opened it, the device.
/// </summary>
public sealed class DiffusionLanguageModel : IDisposable
{
    private readonly Device? _ownedDevice;
    private readonly bool _ownsModel;
    private readonly int? _distilledSteps;

    /// <summary>Wraps a model already in memory (it stays the caller's to dispose).</summary>
    /// <param name="distilledSteps">The sampling steps a distilled student was distilled for, or null.</param>
    public DiffusionLanguageModel(Dit model, int? distilledSteps = null)
        : this(model, distilledSteps, ownsModel: false, ownedDevice: null)
    {
    }

    private DiffusionLanguageModel(Dit model, int? distilledSteps, bool ownsModel, Device? ownedDevice)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (distilledSteps is < 1)
            throw new ArgumentOutOfRangeException(nameof(distilledSteps), $"A student samples in at least 1 step; got {distilledSteps}.");
        Model = model;
        Tokenizer = Tokenizer.FromName(model.Config.Tokenizer);
        _distilledSteps = distilledSteps;
        _ownsModel = ownsModel;
        _ownedDevice = ownedDevice;
    }

    /// <summary>The model.</summary>
    public Dit Model { get; }

    /// <summary>The model's configuration.</summary>
    public DitConfig Config => Model.Config;

    /// <summary>The tokenizer the model was trained over.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>
    /// The denoising steps used when <see cref="GenerationOptions.Steps"/> is not set: a distilled student's own, else the
    /// sampler's default (128).
    /// </summary>
    public int SamplingSteps => _distilledSteps ?? new SamplerOptions().Steps;

    /// <summary>
    /// Loads a diffusion model from <paramref name="source"/>: a checkpoint file, a Hugging Face model folder or a repository
    /// id <c>org/name[@revision]</c> in the local Hugging Face cache (see <see cref="ModelSource.Resolve"/>).
    /// </summary>
    /// <param name="device">Where the model runs; null opens the best device present (CUDA, else the CPU), owned by the model.</param>
    /// <exception cref="FileNotFoundException">The source is not found; the message names what was searched.</exception>
    /// <exception cref="ArgumentException">The source holds an autoregressive model.</exception>
    public static DiffusionLanguageModel Load(string source, Device? device = null, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        ModelSource resolved = ModelSource.Resolve(source, options.HubCache);
        if (resolved.Kind != ModelKind.Diffusion)
            throw new ArgumentException($"'{source}' holds an autoregressive (GPT) model: load it with {nameof(GptLanguageModel)}.",
                nameof(source));
        return DeviceOwnership.Build(device, (on, owned) =>
            new DiffusionLanguageModel(resolved.LoadDiffusion(on, options.UseEma), resolved.SamplingSteps, ownsModel: true, owned));
    }

    /// <summary>
    /// Generates <see cref="GenerationOptions.Samples"/> texts that start with <paramref name="prompt"/> (none: unconditional).
    /// </summary>
    /// <returns>One text per sample, the prompt included.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ArgumentException">The prompt leaves no position to sample.</exception>
    public IReadOnlyList<string> Generate(string prompt = "", GenerationOptions? options = null,
        CancellationToken cancellationToken = default) => Sample(prompt, suffix: null, options, cancellationToken);

    /// <summary>
    /// Generates texts that start with <paramref name="prefix"/> and end with <paramref name="suffix"/>, filling the middle.
    /// </summary>
    /// <returns>One text per sample, prefix and suffix included.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ArgumentException">The suffix is empty, or the texts leave no position to sample.</exception>
    public IReadOnlyList<string> Infill(string prefix, string suffix, GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(suffix);
        return Sample(prefix, suffix, options, cancellationToken);
    }

    /// <summary>
    /// Generates like <see cref="Generate"/> (the same texts for the same options) and yields the texts after every denoising
    /// step, masked positions as <c>[MASK]</c>, then the finished texts (<see cref="GenerationSnapshot.IsFinal"/>).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async IAsyncEnumerable<GenerationSnapshot> StreamAsync(string prompt = "", GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new GenerationOptions();
        int length = options.Length ?? Config.Length;
        SamplingPrompt? fixedTokens = SamplingPrompt.FromText(Tokenizer, prompt, suffix: null, length);
        using var sampler = new DiffusionSampler(Model, SamplerOptionsFor(options), length);
        await foreach (SamplingProgress progress in sampler.StreamAsync(fixedTokens, cancellationToken).ConfigureAwait(false))
            yield return new GenerationSnapshot(progress.Step, progress.IsFinal, Texts(progress.Ids, progress.BatchSize, progress.Length));
    }

    /// <summary>
    /// Writes the weights alone as a Hugging Face model folder (<c>model.safetensors</c> and <c>config.json</c>, a student's
    /// with its sampling steps), which <see cref="Load"/> and MDLM's own code read.
    /// </summary>
    public void SavePretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        HuggingFaceImport.Save(Model.Parameters, folder, _distilledSteps);
    }

    /// <summary>The sampler settings of <paramref name="options"/>, with this model's steps unless they name their own.</summary>
    internal SamplerOptions SamplerOptionsFor(GenerationOptions options) => new()
    {
        Steps = options.Steps ?? SamplingSteps,
        BatchSize = options.Samples,
        Seed = options.Seed,
        Temperature = options.Temperature,
        TopP = options.TopP,
        Draw = options.Draw,
    };

    /// <summary>Frees the model it loaded and the device it opened.</summary>
    public void Dispose()
    {
        if (_ownsModel) Model.Dispose();
        _ownedDevice?.Dispose();
    }

    private IReadOnlyList<string> Sample(string prefix, string? suffix, GenerationOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        options ??= new GenerationOptions();
        int length = options.Length ?? Config.Length;
        SamplingPrompt? fixedTokens = SamplingPrompt.FromText(Tokenizer, prefix, suffix, length);
        using var sampler = new DiffusionSampler(Model, SamplerOptionsFor(options), length);
        SamplingResult result = sampler.Sample(fixedTokens, cancellationToken);
        return Texts(result.Ids, result.BatchSize, result.Length);
    }

    private string[] Texts(ReadOnlySpan<int> ids, int batch, int length)
    {
        var texts = new string[batch];
        for (int b = 0; b < batch; b++) texts[b] = FramedText.Decode(ids.Slice(b * length, length), Tokenizer);
        return texts;
    }
}
