using System.Runtime.CompilerServices;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion;

/// <summary>
/// A GPT-2-style autoregressive language model ready to generate text: one call loads it from a checkpoint file, a GPT-2
/// Hugging Face model folder or a repository id in the local Hugging Face cache (<see cref="ModelSource"/>), and text goes in
/// and out through the model's own tokenizer. Generation decodes left to right with the KV cache (<see cref="GptDecoder"/>)
/// until the length or each text's end-of-text; a cancelled call stops between tokens and leaves the model usable.
/// Disposing frees the model and, when <see cref="Load"/> opened it, the device.
/// </summary>
public sealed class GptLanguageModel : IDisposable
{
    private readonly Device? _ownedDevice;
    private readonly bool _ownsModel;

    /// <summary>Wraps a model already in memory (it stays the caller's to dispose).</summary>
    public GptLanguageModel(Gpt model) : this(model, ownsModel: false, ownedDevice: null)
    {
    }

    private GptLanguageModel(Gpt model, bool ownsModel, Device? ownedDevice)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Tokenizer = Tokenizer.FromName(model.Config.Tokenizer);
        _ownsModel = ownsModel;
        _ownedDevice = ownedDevice;
    }

    /// <summary>The model.</summary>
    public Gpt Model { get; }

    /// <summary>The model's configuration.</summary>
    public GptConfig Config => Model.Config;

    /// <summary>The tokenizer the model was trained over.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>
    /// Loads an autoregressive model from <paramref name="source"/>: a GPT checkpoint file, a GPT-2 Hugging Face model folder
    /// or a repository id <c>org/name[@revision]</c> in the local Hugging Face cache (see <see cref="ModelSource.Resolve"/>).
    /// </summary>
    /// <param name="device">Where the model runs; null opens the best device present (CUDA, else the CPU), owned by the model.</param>
    /// <exception cref="FileNotFoundException">The source is not found; the message names what was searched.</exception>
    /// <exception cref="ArgumentException">The source holds a diffusion model.</exception>
    public static GptLanguageModel Load(string source, Device? device = null, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        ModelSource resolved = ModelSource.Resolve(source, options.HubCache);
        if (resolved.Kind != ModelKind.Autoregressive)
            throw new ArgumentException($"'{source}' holds a diffusion model: load it with {nameof(DiffusionLanguageModel)}.",
                nameof(source));
        return DeviceOwnership.Build(device, (on, owned) =>
            new GptLanguageModel(resolved.LoadGpt(on, options.UseEma), ownsModel: true, owned));
    }

    /// <summary>
    /// Generates <see cref="GenerationOptions.Samples"/> texts that continue <paramref name="prompt"/> (none: unconditional)
    /// up to <see cref="GenerationOptions.Length"/> tokens or their end-of-text.
    /// </summary>
    /// <returns>One text per sample, the prompt included.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ArgumentException">
    /// The prompt leaves no token to generate, the options name denoising steps, or no sample or an unsupported length.
    /// </exception>
    public IReadOnlyList<string> Generate(string prompt = "", GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new GenerationOptions();
        int[] promptIds = PromptIds(prompt, options);
        using var decoder = NewDecoder(options, promptIds.Length);
        GptGenerationResult result = decoder.Generate([promptIds], cancellationToken);
        return result.Tokens.Select(tokens => FramedText.Decode(tokens, Tokenizer)).ToArray();
    }

    /// <summary>
    /// Generates like <see cref="Generate"/> (the same texts for the same options) and yields the texts after every token,
    /// the last item with <see cref="GenerationSnapshot.IsFinal"/>.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async IAsyncEnumerable<GenerationSnapshot> StreamAsync(string prompt = "", GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new GenerationOptions();
        int[] promptIds = PromptIds(prompt, options);
        using var decoder = NewDecoder(options, promptIds.Length);
        await foreach (GptGenerationProgress progress in decoder.StreamAsync([promptIds], cancellationToken).ConfigureAwait(false))
            yield return new GenerationSnapshot(progress.Position - progress.PromptLength, progress.IsFinal, Texts(progress));
    }

    /// <summary>Writes the weights alone as a GPT-2 Hugging Face model folder (<c>model.safetensors</c> and <c>config.json</c>).</summary>
    public void SavePretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        GptHuggingFace.Save(Model.Parameters, folder);
    }

    /// <summary>Frees the model it loaded and the device it opened.</summary>
    public void Dispose()
    {
        if (_ownsModel) Model.Dispose();
        _ownedDevice?.Dispose();
    }

    /// <summary>BOS then the prompt's ids, checked to leave a token to generate.</summary>
    private int[] PromptIds(string prompt, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (options.Steps is not null)
            throw new ArgumentException("An autoregressive model draws one token per step: GenerationOptions.Steps applies to " +
                "diffusion models only.", nameof(options));
        if (options.Samples < 1)
            throw new ArgumentException($"Generate at least 1 sample; got {options.Samples}.", nameof(options));
        int length = options.Length ?? Config.Length;
        if (length < 2 || length > Config.Length)
            throw new ArgumentException($"The length must be in [2, {Config.Length}] (the model's length); got {length}.", nameof(options));
        int[] ids = [Tokenizer.Bos, .. Tokenizer.Encode(prompt)];
        if (ids.Length >= length)
            throw new ArgumentException($"The prompt takes {ids.Length} tokens (with BOS), leaving none of the {length} to generate; " +
                "shorten it or raise the length.", nameof(prompt));
        return ids;
    }

    private GptDecoder NewDecoder(GenerationOptions options, int promptLength) =>
        new(Model, options.Samples, options.Length ?? Config.Length, promptLength, new GptSamplingOptions
        {
            Temperature = options.Temperature,
            TopP = options.TopP,
            Draw = options.Draw,
            Seed = options.Seed,
            EndOfText = Tokenizer.Eos,
        });

    private string[] Texts(GptGenerationProgress progress)
    {
        var texts = new string[progress.BatchSize];
        for (int b = 0; b < texts.Length; b++)
            texts[b] = FramedText.Decode(progress.Sequence(b)[..progress.Length(b)], Tokenizer);
        return texts;
    }
}
