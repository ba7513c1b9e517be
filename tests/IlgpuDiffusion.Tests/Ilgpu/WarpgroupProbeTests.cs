using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;
using Xunit.Abstractions;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// On a Hopper GPU, which element of each operand the warpgroup GEMMs' products read: op(a) one-hot along k (row i holds a
/// 1 at k = i mod 64) against op(b) numbered (element (k, j) = 1 + k + 64·(j mod 4)) makes c(i, j) name the element of
/// op(b) it read (0: none, a zero fill), and the same with the operands' roles swapped names op(a)'s. k spans a whole BF16
/// tile (two TF32 ones), and the numbers are integers up to 256, exact in BF16 and TF32, so a line is named modulo 4. A
/// GEMM check that fails says an element is wrong; this one, run on the device in the same call, writes which (k, line)
/// each wrong result read, so that the shared-memory layout (<see cref="IlgpuDiffusion.Ilgpu.Kernels.Wgmma"/>) can be
/// mended without a GPU. Skipped without CUDA and on GPUs without warpgroup products; 512 rows and columns, so that the
/// products take copies by default.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class WarpgroupProbeTests(ITestOutputHelper output)
{
    // k of the products; lines are told apart modulo LineClasses, which keeps the numbers up to Depth · LineClasses = 256
    private const int Size = 512, Depth = 64, LineClasses = 4;

    [SkippableTheory]
    [InlineData("cuda-bf16-warpgroup", "ABt")]
    [InlineData("cuda-bf16-warpgroup", "AB")]
    [InlineData("cuda-bf16-warpgroup", "AtB")]
    [InlineData("cuda-tf32-warpgroup", "AB")]
    public void Each_result_reads_the_elements_the_layout_puts_there(string backend, string layout)
    {
        var device = (IlgpuDevice)TestBackends.Get(backend);
        Skip.IfNot(device.WarpgroupProducts, $"{device.Accelerator.Name} has no warpgroup products (compute capability 9.0)");
        var matMul = Enum.Parse<MatMulLayout>(layout);
        int wrong = Probe(device, matMul, oneHotA: true) + Probe(device, matMul, oneHotA: false);
        Assert.True(wrong == 0, $"{backend} {layout}: {wrong} results read other elements (see the output)");
    }

    /// <summary>The product of a one-hot operand and a numbered one; writes the first wrong results, returns how many.</summary>
    private int Probe(IlgpuDevice device, MatMulLayout layout, bool oneHotA)
    {
        // op(x)(line, k): the one-hot operand picks k = line mod 64, the numbered one holds 1 + k + 64·(line mod 4)
        float OneHot(int line, int k) => k == line % Depth ? 1f : 0f;
        float Numbered(int line, int k) => 1 + k + Depth * (line % LineClasses);
        Func<int, int, float> a = oneHotA ? OneHot : Numbered, b = oneHotA ? Numbered : OneHot;
        bool aRows = layout != MatMulLayout.AtB, bRows = layout == MatMulLayout.ABt; // op(x) stored [lines, k]
        using var scope = new DeviceScope(device);
        var c = scope.Zeros(Size * Size);
        scope.Kernels.MatMul(layout, scope.Upload(Stored(a, aRows)), scope.Upload(Stored(b, bRows)), c, Size, Size, Depth,
            accumulate: false);
        float[] result = DeviceScope.Download(c);
        int wrong = 0;
        for (int i = 0; i < Size; i++)
            for (int j = 0; j < Size; j++)
            {
                // the numbered operand's line and the one-hot's k: what c(i, j) should read
                var (line, k) = oneHotA ? (j, i % Depth) : (i, j % Depth);
                float value = result[i * Size + j];
                if (value == Numbered(line, k)) continue;
                if (wrong++ < 24)
                    output.WriteLine($"{layout} one-hot {(oneHotA ? "op(a)" : "op(b)")}: c({i}, {j}) = {value}, read " +
                        Read(value) + $"; expected k {k} of line {line} (≡ {line % LineClasses} mod {LineClasses})");
            }
        output.WriteLine($"{layout} one-hot {(oneHotA ? "op(a)" : "op(b)")}: {wrong} of {Size * Size} results wrong");
        return wrong;
    }

    /// <summary>Which numbered element a result read, if one.</summary>
    private static string Read(float value) => value == 0
        ? "nothing (zeros)"
        : value == MathF.Round(value) && value is >= 1 and <= LineClasses * Depth
            ? $"k {((int)value - 1) % Depth} of a line ≡ {((int)value - 1) / Depth} mod {LineClasses}"
            : "no single element";

    /// <summary>op(x) [Size lines, Depth k] as the layout stores it: [lines, k] where <paramref name="rows"/>, else [k, lines].</summary>
    private static float[] Stored(Func<int, int, float> element, bool rows)
    {
        var stored = new float[Size * Depth];
        for (int line = 0; line < Size; line++)
            for (int k = 0; k < Depth; k++)
                stored[rows ? line * Depth + k : k * Size + line] = element(line, k);
        return stored;
    }
}
