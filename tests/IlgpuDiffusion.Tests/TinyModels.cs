using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests;

/// <summary>
/// Every tiny model the tests build, and the helpers that fill and feed them. Four families:
/// <list type="bullet">
/// <item>random-weight models (2 blocks, D 16, 2 heads, C 8), whose every parameter is set by <see cref="Randomize"/> or
/// <see cref="HfWeights"/>: the exact forward, gradient, import, decoder and sampler tests;</item>
/// <item>learning models (2 blocks, D 32, 2 heads, C 16), which the learning, trainer, checkpoint and distillation tests
/// train from a fresh initialization;</item>
/// <item>evaluation models (1 block, D 16, 2 heads, C 8) over the real GPT-2 vocabulary: the evaluation suite and <c>eval</c>;</item>
/// <item>the CLI's model (1 block, D 32, 2 heads, C 16) over the real GPT-2 vocabulary: <c>info</c> and <c>sample</c>.</item>
/// </list>
/// Several tests assert exact values that follow from these shapes and their seeds: a changed config changes them.
/// Fixtures with state (a written corpus, a trained teacher, Adam moments) live beside their tests and build on these configs.
/// </summary>
internal static class TinyModels
{
    /// <summary>Batch of the random-weight models' inputs.</summary>
    public const int Batch = 2;

    /// <summary>Sequence length of <see cref="RandomDit"/>.</summary>
    public const int DitTokens = 6;

    /// <summary>Sequence length of <see cref="RandomGpt"/>.</summary>
    public const int GptTokens = 8;

    /// <summary>Sequence length of <see cref="SamplerDit"/> and <see cref="TrainingDit"/> (and of the training corpus).</summary>
    public const int Length = 16;

    /// <summary>Vocabulary of <see cref="SamplerDit"/> and <see cref="TrainingDit"/>: 31 data tokens and MASK.</summary>
    public const int Vocab = 32;

    /// <summary>The MASK id of <see cref="SamplerDit"/> and <see cref="TrainingDit"/>.</summary>
    public const int Mask = Vocab - 1;

    /// <summary>Sequence length of <see cref="EvaluationDit"/> and, by default, of <see cref="EvaluationGpt"/>.</summary>
    public const int EvaluationLength = 32;

    /// <summary>
    /// The shared CPU device of the process (<see cref="TestBackends"/>'s "cpu"); tests that use it join the conformance
    /// collection (see <see cref="ConformanceCollection"/>).
    /// </summary>
    public static Device Cpu => TestBackends.Get("cpu");

    // ---------------------------------------------------------------- random-weight models

    /// <summary>The random-weight DiT: 2 blocks, D 16, 2 heads, C 8, V 11, L 6.</summary>
    public static DitConfig RandomDit(bool timeConditioning = false, float dropout = 0f) => new()
    {
        Layers = 2,
        Hidden = 16,
        Heads = 2,
        CondDim = 8,
        Vocab = 11,
        Length = DitTokens,
        TimeConditioning = timeConditioning,
        Dropout = dropout,
    };

    /// <summary>The random-weight GPT: 2 blocks, D 16, 2 heads, V 11, L 8.</summary>
    public static GptConfig RandomGpt(GptPositions positions = GptPositions.Learned, bool tied = true, float dropout = 0f) => new()
    {
        Layers = 2,
        Hidden = 16,
        Heads = 2,
        Vocab = 11,
        Length = GptTokens,
        Positions = positions,
        TiedHead = tied,
        Dropout = dropout,
    };

    /// <summary>
    /// The DiT of the sampler, latency and generation tests: the random-weight DiT over V 32 (MASK 31) and L 16, no
    /// dropout; its random weights make its predictions depend on the context.
    /// </summary>
    public static DitConfig SamplerDit(bool timeConditioning = false) =>
        RandomDit(timeConditioning) with { Vocab = Vocab, Length = Length };

    /// <summary>A <see cref="SamplerDit"/> (no gradients) on <paramref name="backend"/>, every parameter random.</summary>
    public static Dit NewSamplerDit(string backend = "cpu", int seed = 5, bool timeConditioning = false)
    {
        var model = new Dit(SamplerDit(timeConditioning), TestBackends.Get(backend), withGradients: false);
        Randomize(model.Parameters, seed);
        return model;
    }

    // ---------------------------------------------------------------- learning models

    /// <summary>
    /// The DiT the learning tests train: 2 blocks, D 32, 2 heads, C 16; each test sets the vocabulary and length of
    /// its task and whether dropout acts.
    /// </summary>
    public static DitConfig LearningDit(int vocab, int length, float dropout) => new()
    {
        Layers = 2,
        Hidden = 32,
        Heads = 2,
        CondDim = 16,
        Vocab = vocab,
        Length = length,
        Dropout = dropout,
    };

    /// <summary>
    /// The model of the MDLM training, checkpoint, cross-entropy and distillation tests (on the corpus of
    /// <see cref="Training.TinyTraining"/>): the learning DiT over V 32 (MASK 31), L 16, dropout 0.1.
    /// </summary>
    public static DitConfig TrainingDit { get; } = LearningDit(Vocab, Length, dropout: 0.1f);

    /// <summary>The GPT the autoregressive trainer tests train: 2 blocks, D 32, 2 heads, dropout 0.1.</summary>
    public static GptConfig LearningGpt(int vocab, int length) => new()
    {
        Layers = 2,
        Hidden = 32,
        Heads = 2,
        Vocab = vocab,
        Length = length,
        Dropout = 0.1f,
    };

    // ---------------------------------------------------------------- models over the GPT-2 vocabulary

    /// <summary>
    /// The diffusion model of the evaluation suite and of <c>eval</c>: 1 block, D 16, 2 heads, C 8, L 32, over the
    /// GPT-2 vocabulary; inference only, so without dropout.
    /// </summary>
    public static DitConfig EvaluationDit { get; } = new()
    {
        Layers = 1,
        Hidden = 16,
        Heads = 2,
        CondDim = 8,
        Length = EvaluationLength,
        Dropout = 0f,
    };

    /// <summary>The GPT of the evaluation tests (the AR row and the judge): 1 block, D 16, 2 heads, over the GPT-2 vocabulary.</summary>
    public static GptConfig EvaluationGpt(int length = EvaluationLength) => new()
    {
        Layers = 1,
        Hidden = 16,
        Heads = 2,
        Length = length,
    };

    /// <summary>
    /// The DiT that the CLI tests save as a Hugging Face folder: 1 block, D 32, 2 heads, C 16, L 16, over the GPT-2
    /// vocabulary, with the default dropout (the shape the CLI tests also train through <c>--layers 1 --hidden 32
    /// --heads 2 --cond-dim 16</c>).
    /// </summary>
    public static DitConfig CliDit { get; } = new()
    {
        Layers = 1,
        Hidden = 32,
        Heads = 2,
        CondDim = 16,
        Length = 16,
    };

    // ---------------------------------------------------------------- weights and inputs

    /// <summary>
    /// Overwrites every DiT parameter (adaLN and output layer included) with non-zero random values; norm weights
    /// near 1.
    /// </summary>
    public static void Randomize(DitParameters parameters, int seed, float scale = 0.5f)
    {
        int k = 0;
        foreach (var (name, shape) in parameters.Entries)
        {
            var values = Numerics.Random((int)shape.Length, seed * 1000 + k++, scale);
            if (name.Contains("norm", StringComparison.Ordinal))
                for (int i = 0; i < values.Length; i++) values[i] += 1f;
            parameters[name].CopyFrom(values);
        }
    }

    /// <summary>
    /// Rows of a GPT head's logits [rows, PaddedVocab] without their padding: [rows, Vocab]. The padding must be zero.
    /// </summary>
    public static float[] Unpadded(float[] logits, GptConfig config)
    {
        int rows = logits.Length / config.PaddedVocab;
        Assert.Equal(rows * config.PaddedVocab, logits.Length);
        for (int r = 0; r < rows; r++)
            Assert.All(logits[(r * config.PaddedVocab + config.Vocab)..((r + 1) * config.PaddedVocab)], v => Assert.Equal(0f, v));
        return Enumerable.Range(0, rows).SelectMany(r => logits.Skip(r * config.PaddedVocab).Take(config.Vocab)).ToArray();
    }

    /// <summary>Rows [rows, Vocab] padded with zeros to a GPT head's [rows, PaddedVocab] (e.g. ∂L/∂logits).</summary>
    public static float[] Padded(float[] rows, GptConfig config) => Enumerable.Range(0, rows.Length / config.Vocab)
        .SelectMany(r => rows.Skip(r * config.Vocab).Take(config.Vocab).Concat(new float[config.PaddedVocab - config.Vocab])).ToArray();

    /// <summary>
    /// Random GPT weights named and shaped as the Hugging Face state dict (Conv1D weights [in, out]); LayerNorm
    /// weights near 1.
    /// </summary>
    public static Dictionary<string, float[]> HfWeights(GptConfig config, int seed, float scale = 0.4f)
    {
        var weights = new Dictionary<string, float[]>();
        int k = 0;
        foreach (var (name, shape) in GptParameters.Layout(config))
        {
            var values = Numerics.Random((int)shape.Length, seed * 1000 + k++, scale);
            if (name.Contains("ln_", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal))
                for (int i = 0; i < values.Length; i++) values[i] += 1f;
            weights[name] = values; // a Conv1D weight [in, out] has the same element count as ours
        }
        return weights;
    }

    /// <summary>Loads Hugging Face-layout weights (<see cref="HfWeights"/>) into a GPT, transposing the Conv1D weights.</summary>
    public static void LoadHfWeights(GptParameters parameters, Dictionary<string, float[]> hf)
    {
        foreach (var (name, shape) in parameters.Entries)
        {
            parameters[name].CopyFrom(GptParameters.IsConv1DWeight(name)
                ? Transpose(hf[name], shape[1], shape[0])
                : hf[name]);
        }
    }

    /// <summary>Clean ids in [0, V−1), a corruption that masks about half of them, and the masked row indices.</summary>
    public static (int[] Clean, int[] Noisy, int[] MaskedRows) Corrupted(DitConfig config, int batch, int tokens, int seed)
    {
        var random = new Random(seed);
        var clean = new int[batch * tokens];
        var noisy = new int[clean.Length];
        var masked = new List<int>();
        for (int i = 0; i < clean.Length; i++)
        {
            clean[i] = random.Next(config.Vocab - 1);
            bool mask = random.NextDouble() < 0.5 || i == 1;
            noisy[i] = mask ? config.MaskIndex : clean[i];
            if (mask) masked.Add(i);
        }
        return (clean, noisy, masked.ToArray());
    }

    /// <summary>Random GPT input ids in [0, V).</summary>
    public static int[] Ids(GptConfig config, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(config.Vocab)).ToArray();
    }

    /// <summary>Uploads an int array as a flat tensor on <paramref name="device"/>.</summary>
    public static Tensor<int> Upload(Device device, int[] values) => device.Upload<int>(values, new Shape(values.Length));

    /// <summary>Uploads a float array as a flat tensor on <paramref name="device"/>.</summary>
    public static Tensor<float> Upload(Device device, float[] values) => device.Upload<float>(values, new Shape(values.Length));

    /// <summary>A [rows, columns] row-major matrix transposed.</summary>
    private static float[] Transpose(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[c * rows + r] = matrix[r * columns + c];
        return result;
    }
}
