using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Models;
using Xunit;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The BF16 copy of a linear layer's input that the forward keeps for the weight gradient (<see cref="IKernels.InputCopyLength"/>),
/// on the emulated tensor cores: the backward copies one operand fewer and, behind a GELU, does not compute the activation
/// again, with results bit for bit those of the kernels on fp32 operands (which read the same BF16 values); where a product
/// does not run on copies the layer reads fp32 as before; backends that keep no copy compute what the copy stood for.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class KeptInputCopyTests
{
    private const int Rows = 136, InChannels = 72, OutChannels = 40;

    private readonly TensorCoreGemmTests.Emulator _emulator;

    public KeptInputCopyTests(TensorCoreGemmTests.Emulator emulator) => _emulator = emulator;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_weight_gradient_reads_the_input_copy_its_forward_kept(bool gelu)
    {
        using var device = _emulator.Unshared(MatMulPrecision.Bf16, multiprocessors: 1, copiesFrom: 1);
        Assert.Equal(Rows * InChannels / 2, device.Kernels.InputCopyLength(Rows, InChannels)); // 72 channels: 36 pairs a row
        var kept = Pass(device, gelu, keep: true);
        Assert.Equal((2, 2), (kept.ForwardPasses, kept.BackwardPasses)); // input (kept) and weight; dy and weight for dx
        Assert.True(kept.Scratch is null || kept.Scratch.All(float.IsNaN), "the backward computed the activation again");
        Pass(device, gelu, keep: false); // the workspace grows to the plain backward's three copies
        Assert.Equal(3, Pass(device, gelu, keep: false).BackwardPasses);
        AssertBitwise(Pass(_emulator.Get(MatMulPrecision.Bf16, 1, copiesFrom: int.MaxValue), gelu, keep: false).Results, kept.Results);
    }

    /// <summary>
    /// From 64 rows and columns on copies: a layer of [136, 40] keeps its input's copy though its forward reads fp32, and its
    /// weight gradient ([40, 72], below the threshold) runs on copies to read it: the GELU backward computes no activation.
    /// No copy is kept of 8 rows, whose forward is too small for copies.
    /// </summary>
    [Fact]
    public void A_product_below_the_threshold_runs_on_copies_to_read_a_kept_one()
    {
        using var device = _emulator.Unshared(MatMulPrecision.Bf16, multiprocessors: 1, copiesFrom: 64);
        Assert.True(device.Kernels.InputCopyLength(Rows, InChannels) > 0);
        Assert.Equal(0, device.Kernels.InputCopyLength(Rows, OutChannels));
        Assert.Equal(0, device.Kernels.InputCopyLength(8, InChannels));
        var kept = Pass(device, gelu: true, keep: true);
        Assert.Equal((1, 2), (kept.ForwardPasses, kept.BackwardPasses)); // the kept input only; dy and weight for dx
        Assert.True(kept.Scratch!.All(float.IsNaN), "the backward computed the activation again");
        AssertBitwise(Pass(_emulator.Get(MatMulPrecision.Bf16, 1, copiesFrom: int.MaxValue), gelu: true, keep: false).Results,
            kept.Results);
    }

    /// <summary>
    /// A Linear → GELU given the activation's copy, then a Linear reading it as made: the epilogue writes the copy for 40
    /// outputs on one split and leaves the fp32 activation (NaN here) unwritten; for 36 outputs (not pairs of 8) or a product
    /// split over k, the activation is written and copied. Either way the results are bit for bit those on fp32 operands.
    /// </summary>
    [Theory]
    [InlineData(40, 72, 1, true)]
    [InlineData(36, 72, 1, false)]
    [InlineData(40, 512, 4, false)]
    public void A_gelu_epilogue_writes_the_copy_the_next_linear_reads(int hidden, int inChannels, int multiprocessors, bool pairs)
    {
        var copies = _emulator.Get(MatMulPrecision.Bf16, multiprocessors, copiesFrom: 1);
        var expected = Mlp(_emulator.Get(MatMulPrecision.Bf16, multiprocessors, copiesFrom: int.MaxValue), keep: false);
        var actual = Mlp(copies, keep: true);
        AssertBitwise([expected[0], expected[1]], [actual[0], actual[1]]);
        if (pairs) Assert.True(actual[2].All(float.IsNaN), "the epilogue wrote the fp32 activation");
        else AssertBitwise([expected[2]], [actual[2]]);

        float[][] Mlp(Device device, bool keep) // [pre-activation, output, activation]
        {
            using var scope = new DeviceScope(device);
            var x = scope.Upload(TestData.Random(Rows * inChannels, seed: 7));
            var (up, upBias) = (scope.Upload(TestData.Random(hidden * inChannels, seed: 8)),
                scope.Upload(TestData.Random(hidden, seed: 9)));
            var down = scope.Upload(TestData.Random(OutChannels * hidden, seed: 10));
            var (pre, y) = (scope.Zeros(Rows * hidden), scope.Zeros(Rows * OutChannels));
            var activation = scope.Upload(Enumerable.Repeat(float.NaN, Rows * hidden).ToArray());
            Tensor<float>? copy = keep ? scope.Zeros((int)device.Kernels.InputCopyLength(Rows, hidden)) : null;
            device.Kernels.LinearGeluForward(x, up, upBias, pre, activation, Rows, inChannels, hidden, activationCopy: copy);
            device.Kernels.LinearForward(activation, down, null, y, Rows, hidden, OutChannels, copy, inputCopyMade: true);
            return [DeviceScope.Download(pre), DeviceScope.Download(y), DeviceScope.Download(activation)];
        }
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Backends_that_keep_no_copy_compute_the_activation_it_stood_for(string backend)
    {
        var device = TestBackends.Get(backend);
        Assert.Equal(0, device.Kernels.InputCopyLength(Rows, InChannels));
        var expected = Pass(device, gelu: true, keep: false);
        var actual = Pass(device, gelu: true, keep: true);
        AssertBitwise(expected.Results, actual.Results);
        AssertBitwise([expected.Activation], [actual.Scratch!]);
    }

    [Fact]
    public void A_kept_copy_too_short_for_the_input_is_refused()
    {
        var device = _emulator.Get(MatMulPrecision.Bf16, 1, copiesFrom: 1);
        using var scope = new DeviceScope(device);
        long words = device.Kernels.InputCopyLength(Rows, InChannels);
        var error = Assert.Throws<ArgumentException>(() => device.Kernels.LinearForward(scope.Zeros(Rows * InChannels),
            scope.Zeros(OutChannels * InChannels), null, scope.Zeros(Rows * OutChannels), Rows, InChannels, OutChannels,
            scope.Zeros((int)words - 1)));
        Assert.Equal("inputCopy", error.ParamName);
    }

    /// <summary>
    /// A DiT training pass whose device keeps its block linears' input copies gives the logits, loss and gradients of one
    /// whose BF16 products read fp32 operands, bit for bit.
    /// </summary>
    [Fact]
    public void A_dit_pass_on_kept_copies_matches_the_products_on_fp32_bit_for_bit()
    {
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.1f) with { Layers = 1 };
        var copies = _emulator.Get(MatMulPrecision.Bf16, 4, copiesFrom: 1);
        Assert.True(copies.Kernels.InputCopyLength(1, config.Hidden) > 0);
        var expected = TinyDitStep.Run(_emulator.Get(MatMulPrecision.Bf16, 4, copiesFrom: int.MaxValue), config);
        var actual = TinyDitStep.Run(copies, config);
        AssertBitwise([expected.Logits, [expected.Loss], expected.Gradients], [actual.Logits, [actual.Loss], actual.Gradients]);
    }

    /// <summary>
    /// The same for an inference pass (one sequence), whose shared set of copies takes the MLP's activation from the GELU
    /// epilogue alone.
    /// </summary>
    [Fact]
    public void A_dit_inference_pass_on_kept_copies_matches_the_products_on_fp32_bit_for_bit()
    {
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.1f) with { Layers = 1 };
        var ids = TinyModels.Corrupted(config, 1, TinyModels.DitTokens, seed: 17).Noisy;
        var (expected, actual) = (Logits(_emulator.Get(MatMulPrecision.Bf16, 4, copiesFrom: int.MaxValue)),
            Logits(_emulator.Get(MatMulPrecision.Bf16, 4, copiesFrom: 1)));
        AssertBitwise([expected], [actual]);

        float[] Logits(Device device)
        {
            using var model = new Dit(config, device);
            TinyModels.Randomize(model.Parameters, seed: 18);
            using var activations = model.CreateActivations(1, TinyModels.DitTokens, training: false);
            return model.Forward(activations, TinyModels.Upload(device, ids), [0.3f]).ToArray();
        }
    }

    /// <summary>The same for a GPT's pass (its blocks' four linears take the same copies; dropout on, causal attention).</summary>
    [Fact]
    public void A_gpt_pass_on_kept_copies_matches_the_products_on_fp32_bit_for_bit()
    {
        var config = TinyModels.RandomGpt(GptPositions.Rotary, tied: false, dropout: 0.1f) with { Layers = 1 };
        int n = TinyModels.Batch * TinyModels.GptTokens;
        var ids = TinyModels.Ids(config, n, seed: 14);
        var direction = TinyModels.Padded(Numerics.Random(n * config.Vocab, 15), config);
        var copies = _emulator.Get(MatMulPrecision.Bf16, 4, copiesFrom: 1);
        Assert.True(copies.Kernels.InputCopyLength(n, config.Hidden) > 0);
        var (expected, actual) = (Run(_emulator.Get(MatMulPrecision.Bf16, 4, copiesFrom: int.MaxValue)), Run(copies));
        AssertBitwise(expected, actual);

        float[][] Run(Device device)
        {
            using var model = new Gpt(config, device);
            TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 16));
            using var activations = model.CreateActivations(TinyModels.Batch, TinyModels.GptTokens, training: true);
            var logits = model.Forward(activations, TinyModels.Upload(device, ids), GptDropout.Training(seed: 3, step: 4)).ToArray();
            model.ZeroGradients();
            model.Backward(activations, TinyModels.Upload(device, direction));
            return [logits, model.Gradients!.All.ToArray()];
        }
    }

    /// <summary>
    /// A linear layer's forward and backward ([y, dInput or dPreActivation, dWeight, dBias]) with the device's kept input
    /// copy where <paramref name="keep"/>, behind a GELU where <paramref name="gelu"/> (whose backward then gets a scratch of
    /// NaN for the activation when keeping), and the copy passes each made.
    /// </summary>
    private static LayerPass Pass(Device device, bool gelu, bool keep)
    {
        using var scope = new DeviceScope(device);
        var pre = scope.Upload(TestData.Random(Rows * InChannels, seed: 1));
        var x = scope.Zeros(Rows * InChannels);
        device.Kernels.GeluForward(pre, x, Rows * InChannels);
        if (!gelu) x = pre;
        var (w, b) = (scope.Upload(TestData.Random(OutChannels * InChannels, seed: 2)),
            scope.Upload(TestData.Random(OutChannels, seed: 3)));
        var (y, dy) = (scope.Zeros(Rows * OutChannels), scope.Upload(TestData.Random(Rows * OutChannels, seed: 4)));
        var (dX, dW, dB) = (scope.Zeros(Rows * InChannels), scope.Upload(TestData.Random(OutChannels * InChannels, seed: 5)),
            scope.Upload(TestData.Random(OutChannels, seed: 6)));
        long words = device.Kernels.InputCopyLength(Rows, InChannels);
        Tensor<float>? copy = keep ? scope.Zeros((int)Math.Max(words, 1)) : null;
        long start = Passes(device);
        device.Kernels.LinearForward(x, w, b, y, Rows, InChannels, OutChannels, copy);
        long forward = Passes(device);
        Tensor<float>? scratch = null;
        if (gelu)
        {
            var activation = keep ? scope.Upload(Enumerable.Repeat(float.NaN, Rows * InChannels).ToArray()) : x;
            scratch = keep ? activation : null;
            device.Kernels.GeluLinearBackward(dy, activation, pre, w, dX, dW, dB, Rows, InChannels, OutChannels, copy);
        }
        else
            device.Kernels.LinearBackward(dy, x, w, dX, dW, dB, Rows, InChannels, OutChannels, accumulateInput: false, copy);
        long backward = Passes(device);
        return new LayerPass([DeviceScope.Download(y), DeviceScope.Download(dX), DeviceScope.Download(dW), DeviceScope.Download(dB)],
            DeviceScope.Download(x), scratch is { } s ? DeviceScope.Download(s) : null, forward - start, backward - forward);
    }

    private static long Passes(Device device) => device is IlgpuDevice ilgpu ? ilgpu.CopyPasses : 0;

    private static void AssertBitwise(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.Equal(expected[t].Length, actual[t].Length);
            for (int i = 0; i < expected[t].Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[t][i]) == BitConverter.SingleToInt32Bits(actual[t][i]),
                    $"result {t}, element {i}: {actual[t][i]}, expected {expected[t][i]}");
        }
    }

    /// <summary>A layer's results, its input (the activation behind a GELU), the backward's scratch, and the copy passes.</summary>
    private sealed record LayerPass(float[][] Results, float[] Activation, float[]? Scratch, long ForwardPasses, long BackwardPasses);
}
