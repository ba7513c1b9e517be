using System.Diagnostics;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Benchmarking;

/// <summary>The attention of one layer of a training step: B sequences of T tokens, H heads of size D, bidirectional.</summary>
internal sealed record AttentionShape(int Batch, int Tokens, int Heads, int HeadDim)
{
    /// <summary>Multiply-adds counted twice in the forward's two products (Q·Kᵀ and P·V): 4·B·H·T²·D.</summary>
    public double ForwardFlops => 4.0 * Batch * Heads * Tokens * (double)Tokens * HeadDim;

    /// <summary>The backward's five products (dV, dP, dS·K, dSᵀ·Q, and the scores again), FlashAttention's count: 2.5 × forward.</summary>
    public double BackwardFlops => 2.5 * ForwardFlops;
}

/// <summary>Mean times of the forward and of the backward alone, and their throughputs.</summary>
internal sealed record AttentionMeasurement(AttentionShape Shape, TimeSpan Forward, TimeSpan Backward)
{
    public double ForwardTeraFlops => Shape.ForwardFlops / Forward.TotalSeconds / 1e12;

    public double BackwardTeraFlops => Shape.BackwardFlops / Backward.TotalSeconds / 1e12;

    /// <summary>Forward and backward together, as PyTorch's SDPA benchmarks count them.</summary>
    public double TotalTeraFlops => (Shape.ForwardFlops + Shape.BackwardFlops) / (Forward + Backward).TotalSeconds / 1e12;
}

/// <summary>
/// Times a device's attention kernels on one layer of a training step, on random data: the kernel-level yardstick beside
/// PyTorch's <c>scaled_dot_product_attention</c> on the same shape (bench/torch/dit_step.py --attention).
/// </summary>
internal static class AttentionThroughput
{
    /// <summary>The mean of <paramref name="runs"/> timed forwards and backwards after two warm-up runs of each.</summary>
    public static AttentionMeasurement Time(Device device, AttentionShape shape, int runs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var (b, t, h, d) = shape;
        int rows = checked(b * t), width = checked(h * d);
        var random = new Random(1);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        using var qkv = device.Upload<float>(Random(checked(3 * rows * width)), new Shape(rows, 3 * width));
        using var dOutput = device.Upload<float>(Random(checked(rows * width)), new Shape(rows, width));
        using var output = device.AllocateTensor<float>(new Shape(rows, width));
        using var logSumExp = device.AllocateTensor<float>(new Shape(b * h, t));
        using var dQkv = device.AllocateTensor<float>(new Shape(rows, 3 * width));
        void Forward() => device.Kernels.AttentionForward(qkv, output, logSumExp, b, t, h, d, causal: false);
        void Backward() => device.Kernels.AttentionBackward(dOutput, qkv, output, logSumExp, dQkv, b, t, h, d, causal: false);
        return new AttentionMeasurement(shape, Mean(device, Forward, runs), Mean(device, Backward, runs));
    }

    private static TimeSpan Mean(Device device, Action launch, int runs)
    {
        for (int i = 0; i < 2; i++) launch();
        device.Synchronize();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < runs; i++) launch();
        device.Synchronize();
        return Stopwatch.GetElapsedTime(start) / runs;
    }
}
