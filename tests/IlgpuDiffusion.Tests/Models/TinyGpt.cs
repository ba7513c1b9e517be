using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>A tiny GPT (2 blocks, D 16, 2 heads, V 11, L 8) with random weights in the Hugging Face layout, and its inputs.</summary>
internal static class TinyGpt
{
    public const int Batch = 2, Tokens = 8;

    public static GptConfig Config(GptPositions positions = GptPositions.Learned, bool tied = true, float dropout = 0f) => new()
    {
        Layers = 2,
        Hidden = 16,
        Heads = 2,
        Vocab = 11,
        Length = Tokens,
        Positions = positions,
        TiedHead = tied,
        Dropout = dropout,
    };

    /// <summary>Random weights named and shaped as the HF state dict (Conv1D weights [in, out]); LayerNorm weights near 1.</summary>
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

    /// <summary>Loads HF-layout weights into the model, transposing the Conv1D weights.</summary>
    public static void Load(GptParameters parameters, Dictionary<string, float[]> hf)
    {
        foreach (var (name, shape) in parameters.Entries)
            parameters[name].CopyFrom(GptParameters.IsConv1DWeight(name) ? Transpose(hf[name], shape[1], shape[0]) : hf[name]);
    }

    /// <summary>A [rows, columns] row-major matrix transposed.</summary>
    public static float[] Transpose(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[c * rows + r] = matrix[r * columns + c];
        return result;
    }

    /// <summary>Random ids in [0, V).</summary>
    public static int[] Ids(GptConfig config, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(config.Vocab)).ToArray();
    }

    /// <summary>Uploads an int array as a flat tensor.</summary>
    public static Tensor<int> Upload(Device device, int[] values) => device.Upload<int>(values, new Shape(values.Length));

    /// <summary>Uploads a float array as a flat tensor.</summary>
    public static Tensor<float> Upload(Device device, float[] values) => device.Upload<float>(values, new Shape(values.Length));
}
