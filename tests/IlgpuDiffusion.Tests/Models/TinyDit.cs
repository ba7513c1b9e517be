using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>A tiny DiT (2 blocks, D 16, 2 heads, C 8, V 11, L 6) with every parameter random, and its inputs.</summary>
internal static class TinyDit
{
    public const int Batch = 2, Tokens = 6;

    public static DitConfig Config(bool timeConditioning = false, float dropout = 0f) => new()
    {
        Layers = 2,
        Hidden = 16,
        Heads = 2,
        CondDim = 8,
        Vocab = 11,
        Length = Tokens,
        TimeConditioning = timeConditioning,
        Dropout = dropout,
    };

    /// <summary>Overwrites every parameter (adaLN and output layer included) with non-zero random values; norm weights near 1.</summary>
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

    /// <summary>Uploads an int array as a flat tensor on <paramref name="device"/>.</summary>
    public static Tensor<int> Upload(Device device, int[] values) => device.Upload<int>(values, new Shape(values.Length));

    /// <summary>Uploads a float array as a flat tensor on <paramref name="device"/>.</summary>
    public static Tensor<float> Upload(Device device, float[] values) => device.Upload<float>(values, new Shape(values.Length));
}
