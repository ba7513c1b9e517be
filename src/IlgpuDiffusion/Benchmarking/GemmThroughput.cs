using System.Diagnostics;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Benchmarking;

/// <summary>One matrix product of a training step: c [M, N] = op(a)·op(b) over K.</summary>
/// <param name="Name">Which product, e.g. "qkv forward".</param>
internal sealed record GemmShape(string Name, MatMulLayout Layout, int M, int N, int K)
{
    /// <summary>Multiply-adds counted twice.</summary>
    public double Flops => 2.0 * M * N * K;
}

/// <summary>The mean time of a product and its throughput.</summary>
internal sealed record GemmMeasurement(GemmShape Shape, TimeSpan Mean)
{
    /// <summary>Achieved TFLOP/s.</summary>
    public double TeraFlops => Shape.Flops / Mean.TotalSeconds / 1e12;
}

/// <summary>
/// Times a device's GEMMs on the products a DiT training step makes (each Linear's forward, input gradient and weight
/// gradient, the output head on every token), on random data: the kernel-level yardstick beside PyTorch's
/// <c>torch.matmul</c> on the same shapes (bench/torch).
/// </summary>
internal static class GemmThroughput
{
    /// <summary>The products of one training step of <paramref name="config"/> over <paramref name="tokens"/> token rows.</summary>
    public static IReadOnlyList<GemmShape> TrainingShapes(DitConfig config, int tokens)
    {
        int d = config.Hidden, f = config.MlpHidden;
        var shapes = new List<GemmShape>();
        foreach (var (name, inChannels, outChannels) in new[]
        {
            ("qkv", d, 3 * d), ("attention out", d, d), ("mlp up", d, f), ("mlp down", f, d), ("head", d, config.PaddedVocab),
        })
        {
            shapes.Add(new GemmShape($"{name} forward", MatMulLayout.ABt, tokens, outChannels, inChannels));
            shapes.Add(new GemmShape($"{name} input gradient", MatMulLayout.AB, tokens, inChannels, outChannels));
            shapes.Add(new GemmShape($"{name} weight gradient", MatMulLayout.AtB, outChannels, inChannels, tokens));
        }
        return shapes;
    }

    /// <summary>The mean of <paramref name="runs"/> timed products after two warm-up runs, on random inputs.</summary>
    public static GemmMeasurement Time(Device device, GemmShape shape, int runs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        long aLength = (long)shape.M * shape.K, bLength = (long)shape.N * shape.K;
        using var a = device.Allocate<float>(aLength);
        using var b = device.Allocate<float>(bLength);
        using var c = device.Allocate<float>((long)shape.M * shape.N);
        var random = new Random(1);
        a.CopyFromHost(0, Enumerable.Range(0, checked((int)aLength)).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
        b.CopyFromHost(0, Enumerable.Range(0, checked((int)bLength)).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
        var at = new Tensor<float>(a, 0, new Shape(checked((int)aLength)));
        var bt = new Tensor<float>(b, 0, new Shape(checked((int)bLength)));
        var ct = new Tensor<float>(c, 0, new Shape(checked(shape.M * shape.N)));
        for (int i = 0; i < 2; i++) device.Kernels.MatMul(shape.Layout, at, bt, ct, shape.M, shape.N, shape.K, accumulate: false);
        device.Synchronize();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < runs; i++) device.Kernels.MatMul(shape.Layout, at, bt, ct, shape.M, shape.N, shape.K, accumulate: false);
        device.Synchronize();
        return new GemmMeasurement(shape, Stopwatch.GetElapsedTime(start) / runs);
    }
}
