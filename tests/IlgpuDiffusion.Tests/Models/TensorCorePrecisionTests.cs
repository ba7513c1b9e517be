using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Ilgpu;
using Xunit;
using Xunit.Abstractions;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// A whole DiT pass (forward with dropout and time conditioning, SUBS loss, backward) with its GEMMs on tensor cores
/// against the fp32 CPU backend, with a tolerance per precision: the conformance of each precision at the model's level
/// (the GEMM-level tests compare against a reference that rounds inputs the same way). The emulated rows run the
/// tensor-core kernels on ILGPU's CPU accelerator with warps of 32; the cuda rows run them on a GPU of compute
/// capability 8.0+ (skipped without one). The measure is ‖x − x_cpu‖ / ‖x_cpu‖ per result. The tiny model's heads of 8
/// run on the tensor-core attention as well (padded to 64 columns). The bounds are 2.5–3× the errors the emulated rows
/// give (TF32, which keeps 11 significant bits of each product's inputs: logits 8.9e-4, loss 6.4e-5, gradients 7.9e-3;
/// BF16, which keeps 8: 6.8e-3, 9.2e-4, 5.0e-2), and far below what a GEMM given wrong operands or layouts gives
/// (order 1).
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class TensorCorePrecisionTests
{
    private readonly TensorCoreGemmTests.Emulator _emulator;
    private readonly ITestOutputHelper _output;

    public TensorCorePrecisionTests(TensorCoreGemmTests.Emulator emulator, ITestOutputHelper output)
    {
        _emulator = emulator;
        _output = output;
    }

    public static TheoryData<string, double, double> Rows() => new()
    {
        // row, logits and loss bound, gradients bound
        { "emulated-tf32", 3e-3, 2e-2 },
        { "emulated-bf16", 1.5e-2, 1.5e-1 },
        { "cuda-tf32", 3e-3, 2e-2 },
        { "cuda-bf16", 1.5e-2, 1.5e-1 },
    };

    [SkippableTheory]
    [MemberData(nameof(Rows))]
    public void A_dit_pass_on_tensor_cores_stays_within_its_precision_of_fp32(string row, double logitBound, double gradientBound)
    {
        TestBackends.SkipEmulationWhereCudaRuns(row);
        Device device = row switch
        {
            "emulated-tf32" => _emulator.Get(MatMulPrecision.Tf32, multiprocessors: 4),
            "emulated-bf16" => _emulator.Get(MatMulPrecision.Bf16, multiprocessors: 4),
            _ => TestBackends.Get(row),
        };
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.1f);
        var expected = TinyDitStep.Run(TestBackends.Get("cpu"), config);
        var actual = TinyDitStep.Run(device, config);

        AssertWithin(expected.Logits, actual.Logits, logitBound, $"{row} logits");
        AssertWithin([expected.Loss], [actual.Loss], logitBound, $"{row} loss");
        AssertWithin(expected.Gradients, actual.Gradients, gradientBound, $"{row} gradients");
    }

    /// <summary>
    /// The same pass with heads of 64 (hidden 128), the flash kernels' full width, in one block (every block runs the same
    /// kernels; a second doubled the emulation's minute). The emulated errors: logits 1.16e-3, loss 1.01e-3, gradients
    /// 5.7e-3. Hidden 192 gives heads of 96, on the flash kernels for wide heads both ways: logits 7.2e-4, loss 6.7e-5,
    /// gradients 7.3e-3. The attention kernels alone are 4.5e-4 off fp32 (TensorCoreAttentionTests' shapes), as a TF32 GEMM
    /// is. Under bf16 (BF16 attention) the emulated pass of two blocks measured logits 1.01e-2, loss 2.6e-3, gradients
    /// 2.07e-1, six to eight times the TF32 pass of two blocks (logits 1.35e-3, gradients 3.5e-2), as BF16's 8 significant
    /// bits against TF32's 11 predict; the cuda-bf16 row's bounds are twice those. The emulated bf16 row is left out (its
    /// shuffle-emulated BF16 products take over a minute here), the kernels being checked against a BF16-rounded reference
    /// in TensorCoreAttentionTests.
    /// </summary>
    [SkippableTheory]
    [InlineData("emulated-tf32", 128, 5e-3, 3e-3, 3e-2)]
    [InlineData("cuda-tf32", 128, 5e-3, 3e-3, 3e-2)]
    [InlineData("cuda-bf16", 128, 2e-2, 6e-3, 4e-1)]
    [InlineData("emulated-tf32", 192, 5e-3, 3e-3, 3e-2)]
    [InlineData("cuda-tf32", 192, 5e-3, 3e-3, 3e-2)]
    [InlineData("cuda-bf16", 192, 2e-2, 6e-3, 4e-1)]
    public void A_dit_pass_with_tensor_core_attention_stays_within_its_precision_of_fp32(string row, int hidden, double logitBound,
        double lossBound, double gradientBound)
    {
        TestBackends.SkipEmulationWhereCudaRuns(row);
        Device device = row switch
        {
            "emulated-tf32" => _emulator.Get(MatMulPrecision.Tf32, multiprocessors: 4),
            _ => TestBackends.Get(row),
        };
        var config = TinyModels.RandomDit(timeConditioning: true, dropout: 0.1f) with { Hidden = hidden, Heads = 2, Layers = 1 };
        var expected = TinyDitStep.Run(TestBackends.Get("cpu"), config);
        var actual = TinyDitStep.Run(device, config);
        AssertWithin(expected.Logits, actual.Logits, logitBound, $"{row} logits");
        AssertWithin([expected.Loss], [actual.Loss], lossBound, $"{row} loss");
        AssertWithin(expected.Gradients, actual.Gradients, gradientBound, $"{row} gradients");
    }

    private void AssertWithin(float[] expected, float[] actual, double bound, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            difference += Math.Pow((double)actual[i] - expected[i], 2);
            norm += Math.Pow(expected[i], 2);
        }
        double relative = Math.Sqrt(difference / norm);
        _output.WriteLine($"{what}: ‖x − x_cpu‖ / ‖x_cpu‖ = {relative:E2} (bound {bound:E1})");
        Assert.True(relative <= bound, $"{what}: ‖x − x_cpu‖ / ‖x_cpu‖ = {relative:E2} > {bound:E1}");
    }
}
