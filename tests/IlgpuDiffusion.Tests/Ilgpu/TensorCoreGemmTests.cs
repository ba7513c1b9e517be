using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The tensor-core GEMMs without a GPU: the input rounding bit for bit, the fragment layouts, and the whole kernel
/// (staging, shared layouts, warp tiles, epilogue, split-K) on ILGPU's CPU accelerator with warps of 32, where mma.sync is
/// emulated with warp shuffles, against a reference that rounds its inputs the same way. Only the instructions
/// themselves need a GPU (the PTX tests check they are emitted; the cuda rows of the conformance suite run them).
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class TensorCoreGemmTests
{
    private readonly Emulator _emulator;

    public TensorCoreGemmTests(Emulator emulator) => _emulator = emulator;

    /// <summary>A CPU accelerator with warps of 32 and groups of 256, and devices on it per precision and split setting.</summary>
    public sealed class Emulator : IDisposable
    {
        private readonly Context _context = Context.Create(builder => builder
            .CPU(new CPUDevice(Mma.WarpLanes, TensorCoreGemmKernels.Threads / Mma.WarpLanes, 1))
            .EnableAlgorithms()
            .Optimize(OptimizationLevel.O2));

        private readonly Dictionary<(MatMulPrecision, int, bool, bool, bool, int?, bool, bool, bool), Device> _devices = [];

        private readonly Dictionary<MatMulPrecision, TensorCoreGemm> _gemms = [];

        /// <summary>
        /// A device multiplying in <paramref name="precision"/> whose split-K fills <paramref name="multiprocessors"/>, its
        /// TF32 GEMMs in stages of 32 of k (the default where a GPU allows them) unless <paramref name="deepTf32"/> is false,
        /// loaded with their launch bounds (the default from sm_90) when <paramref name="launchBounds"/>, its TF32 attention
        /// backward's key pass in blocks of 64 keys (the default where a GPU grants their shared memory) unless
        /// <paramref name="tf32KeyBlocks"/> is false, its BF16 GEMMs on BF16 copies of their operands from
        /// <paramref name="copiesFrom"/> rows and columns (the default's 512 when null), staged through cp.async where
        /// <paramref name="pipelinedCopies"/> (and so its TF32 GEMMs on TF32 copies from as many), its BF16 attention forward
        /// copying key tiles through cp.async where <paramref name="pipelinedAttention"/>, its BF16 GEMMs on copies on
        /// warpgroup products where <paramref name="warpgroup"/>.
        /// </summary>
        internal Device Get(MatMulPrecision precision, int multiprocessors, bool deepTf32 = true, bool launchBounds = false,
            bool tf32KeyBlocks = true, int? copiesFrom = null, bool pipelinedCopies = false, bool pipelinedAttention = false,
            bool warpgroup = false)
        {
            var key = (precision, multiprocessors, deepTf32, launchBounds, tf32KeyBlocks, copiesFrom, pipelinedCopies,
                pipelinedAttention, warpgroup);
            lock (_devices)
            {
                if (!_devices.TryGetValue(key, out var device))
                {
                    var accelerator = _context.GetCPUDevices()[0].CreateAccelerator(_context);
                    device = new IlgpuDevice(Backend.IlgpuCpu, accelerator, precision, multiprocessors,
                        choices: new KernelChoices(DeepTf32: deepTf32, GemmLaunchBounds: launchBounds, Tf32KeyBlocks: tf32KeyBlocks,
                            CopiesFrom: copiesFrom, PipelinedCopies: pipelinedCopies, PipelinedAttention: pipelinedAttention,
                            WarpgroupProducts: warpgroup));
                    _devices[key] = device;
                }
                return device;
            }
        }

        /// <summary>
        /// A device like <see cref="Get"/>'s that no other test shares, for tests of the state its products keep between
        /// calls; the caller disposes it. Its kernels come from the context's cache where other devices compiled them.
        /// </summary>
        internal IlgpuDevice Unshared(MatMulPrecision precision, int multiprocessors, int? copiesFrom, bool pipelinedCopies = false) =>
            new(Backend.IlgpuCpu, _context.GetCPUDevices()[0].CreateAccelerator(_context), precision, multiprocessors,
                choices: new KernelChoices(CopiesFrom: copiesFrom, PipelinedCopies: pipelinedCopies));

        /// <summary>
        /// A tensor-core GEMM in <paramref name="precision"/> on the accelerator of that precision's device with a split-K
        /// over 4 multiprocessors, and the accelerator; one per precision, so each kernel compiles once for every test.
        /// </summary>
        internal (TensorCoreGemm Gemm, Accelerator Accelerator) Gemm(MatMulPrecision precision)
        {
            var accelerator = ((IlgpuDevice)Get(precision, multiprocessors: 4)).Accelerator;
            lock (_gemms)
            {
                if (!_gemms.TryGetValue(precision, out var gemm))
                    _gemms[precision] = gemm = new TensorCoreGemm(accelerator.DefaultStream, precision, multiprocessors: 4);
                return (gemm, accelerator);
            }
        }

        public void Dispose()
        {
            foreach (var gemm in _gemms.Values) gemm.Dispose();
            foreach (var device in _devices.Values) device.Dispose();
            _context.Dispose();
        }
    }

    [Theory]
    [InlineData(1.0f, 1.0f)]
    [InlineData(1.0f + 1f / 2048, 1.0f + 1f / 1024)]            // a tie rounds away from zero
    [InlineData(-(1.0f + 1f / 2048), -(1.0f + 1f / 1024))]
    [InlineData(1.0f + 1f / 4096, 1.0f)]                         // below half an ulp of TF32 rounds down
    [InlineData(1.0f + 3f / 4096, 1.0f + 1f / 1024)]             // above half rounds up
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    public void Tf32_rounds_to_ten_mantissa_bits_with_ties_away_from_zero(float x, float expected)
    {
        Assert.Equal(expected, TensorCoreRounding.Tf32(x));
        Assert.Equal(0u, TensorCoreRounding.Tf32Bits(x) & 0x1FFFu);
    }

    [Theory]
    [InlineData(1.0f, 1.0f)]
    [InlineData(1.0f + 1f / 256, 1.0f)]                          // a tie goes to the even neighbour (down here)
    [InlineData(1.0f + 3f / 256, 1.0f + 1f / 64)]                // ... and up here
    [InlineData(-(1.0f + 3f / 256), -(1.0f + 1f / 64))]
    [InlineData(1.0f + 1f / 512, 1.0f)]
    public void Bf16_rounds_to_seven_mantissa_bits_with_ties_to_even(float x, float expected) =>
        Assert.Equal(expected, TensorCoreRounding.Bf16(x));

    [Fact]
    public void Rounding_keeps_NaN_a_NaN() =>
        Assert.True(float.IsNaN(TensorCoreRounding.Tf32(float.NaN)) && float.IsNaN(TensorCoreRounding.Bf16(float.NaN)));

    [Fact]
    public void Every_fragment_layout_covers_its_tile_exactly_once()
    {
        var tf32A = new List<(int, int)>();
        var tf32B = new List<(int, int)>();
        var bf16A = new List<(int, int)>();
        var bf16B = new List<(int, int)>();
        var accumulators = new List<(int, int)>();
        for (int lane = 0; lane < Mma.WarpLanes; lane++)
            for (int register = 0; register < 4; register++)
            {
                tf32A.Add((Mma.ARow(lane, register), Mma.Tf32AK(lane, register)));
                bf16A.Add((Mma.ARow(lane, register), Mma.Bf16AK(lane, register)));
                bf16A.Add((Mma.ARow(lane, register), Mma.Bf16AK(lane, register) + 1));
                accumulators.Add((Mma.AccumulatorRow(lane, register), Mma.AccumulatorColumn(lane, register)));
                if (register >= 2) continue;
                tf32B.Add((Mma.Tf32BK(lane, register), Mma.BColumn(lane)));
                bf16B.Add((Mma.Bf16BK(lane, register), Mma.BColumn(lane)));
                bf16B.Add((Mma.Bf16BK(lane, register) + 1, Mma.BColumn(lane)));
            }
        AssertCovers(tf32A, 16, 8);
        AssertCovers(tf32B, 8, 8);
        AssertCovers(bf16A, 16, 16);
        AssertCovers(bf16B, 16, 8);
        AssertCovers(accumulators, 16, 8);
    }

    [Fact]
    public void A_stage_places_every_element_of_a_tile_once_in_either_layout_and_precision()
    {
        foreach (bool bf16 in new[] { false, true })
            foreach (bool kContiguous in new[] { true, false })
            {
                int tileK = TensorCoreGemmKernels.TileK(bf16), n = TensorCoreGemmKernels.GroupLength(bf16);
                var positions = new HashSet<(int, int)>();
                var places = new HashSet<(int, int)>();
                for (int thread = 0; thread < TensorCoreGemmKernels.Threads; thread++)
                {
                    for (int i = 0; i < TensorCoreGemmKernels.ElementsPerThread(bf16); i++)
                    {
                        var position = TensorCoreGemmKernels.Position(thread, i, kContiguous, bf16);
                        Assert.True(positions.Add(position));
                        // Groups run along the contiguous axis from a multiple of 4: 16-byte loads.
                        var groupStart = TensorCoreGemmKernels.Position(thread, i / n * n, kContiguous, bf16);
                        var expected = kContiguous ? (groupStart.Line, groupStart.K + i % n) : (groupStart.Line + i % n, groupStart.K);
                        Assert.Equal(expected, position);
                        Assert.Equal(0, (kContiguous ? groupStart.K : groupStart.Line) % 4);
                        var place = Place(position, kContiguous, bf16);
                        Assert.True(places.Add(place));
                        Assert.InRange(place.Word, 0, TensorCoreGemmKernels.SharedFloats / 4 - 1); // one operand's stage
                        // A group fills consecutive words from a 16-byte boundary: one 16-byte store. BF16 elements 2w and
                        // 2w + 1 share a word, the first in the low half. TF32 line-contiguous: the two groups (k, k + 4)
                        // interleave over eight words, two 16-byte stores.
                        var groupPlace = Place(groupStart, kContiguous, bf16);
                        var firstPlace = Place(TensorCoreGemmKernels.Position(thread, 0, kContiguous, bf16), kContiguous, bf16);
                        bool interleaved = !bf16 && !kContiguous;
                        Assert.Equal(0, (interleaved ? firstPlace : groupPlace).Word % 4);
                        Assert.Equal(interleaved
                            ? (firstPlace.Word + 2 * (i % n) + i / n, 0)
                            : (groupPlace.Word + (bf16 ? i % n / 2 : i % n), bf16 ? i % 2 : 0), place);
                    }
                }
                Assert.Equal(TensorCoreGemmKernels.TileM * tileK, positions.Count);
                Assert.All(positions, p => Assert.True(p.Item1 < TensorCoreGemmKernels.TileM && p.Item2 < tileK));
            }
    }

    /// <summary>
    /// The fragments that ldmatrix gives each lane, emulated from the PTX ISA's definition of the instruction
    /// (<see cref="LdmatrixEmulation"/>) on a stage
    /// whose every element holds its own (line, k), are the ones the mma instructions take (<see cref="Mma"/>'s layouts):
    /// A fragments of every 16-row slice and k-step of the warp tile and pairs of B fragments, at the row addresses the
    /// kernels give (<see cref="TensorCoreGemmKernels.MatrixWord"/> of a warp's first line). Every row address is
    /// 16-byte aligned and the eight rows of each matrix fall on 32 distinct banks.
    /// </summary>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(true, false)] // BF16 line-contiguous: loaded transposed
    public void Ldmatrix_rows_give_the_mma_fragments(bool bf16, bool kContiguous)
    {
        const int warpLine = 32;
        var halves = new uint[2 * TensorCoreGemmKernels.SharedFloats / 4];
        for (int line = 0; line < TensorCoreGemmKernels.TileM; line++)
            for (int k = 0; k < TensorCoreGemmKernels.TileK(bf16); k++)
            {
                var (word, half) = Place((line, k), kContiguous, bf16);
                uint id = Id(line, k);
                if (bf16) halves[2 * word + half] = id;
                else (halves[2 * word], halves[2 * word + 1]) = (id & 0xFFFF, id >> 16);
            }
        const int kSteps = 2;
        int kStep = bf16 ? 16 : 8;
        foreach (bool b in new[] { false, true })
            for (int slice = 0; slice < (b ? 2 : 4); slice++)
                for (int step = 0; step < kSteps; step++)
                {
                    int line0 = 16 * slice, k0 = step * kStep;
                    int RowWord(int lane) =>
                        TensorCoreGemmKernels.MatrixWord(new LaneMatrices(lane), warpLine, kContiguous, bf16, b)
                        + TensorCoreGemmKernels.StageWord(line0, k0, kContiguous, bf16);
                    LdmatrixEmulation.AssertAlignedWithoutBankConflicts(RowWord);
                    for (int lane = 0; lane < Mma.WarpLanes; lane++)
                    {
                        uint[] registers = LdmatrixEmulation.Load(halves, RowWord, lane, transposed: !kContiguous);
                        for (int r = 0; r < 4; r++)
                        {
                            var (line, k) = Expected(lane, r, bf16, b);
                            line += warpLine + line0;
                            k += k0;
                            uint expected = bf16 ? Id(line, k) | Id(line, k + 1) << 16 : Id(line, k);
                            Assert.True(expected == registers[r], $"lane {lane} register {r} (b {b}, slice {slice}, step {step})");
                        }
                    }
                }
    }

    /// <summary>
    /// A TF32 B fragment of an operand whose lines are contiguous is one 8-byte read per lane: its registers (k t and
    /// t + 4 of column g) sit side by side in that order, 8-byte aligned, and each half-warp's reads (how the hardware
    /// serves 8-byte ones) fall on 32 distinct banks, for every column block and k-step of the warp tile.
    /// </summary>
    [Fact]
    public void Tf32_line_contiguous_b_fragments_are_aligned_conflict_free_pairs()
    {
        for (int col = 0; col < 32; col += 8)
            for (int k = 0; k < 16; k += 8)
                for (int half = 0; half < 2; half++)
                {
                    var banks = new HashSet<int>();
                    for (int lane = 16 * half; lane < 16 * half + 16; lane++)
                    {
                        int column = col + Mma.BColumn(lane);
                        int low = TensorCoreGemmKernels.StageWord(column, k + Mma.Tf32BK(lane, 0), false, false);
                        Assert.Equal(low + 1, TensorCoreGemmKernels.StageWord(column, k + Mma.Tf32BK(lane, 1), false, false));
                        Assert.Equal(0, low % 2);
                        Assert.True(banks.Add(low % 32) && banks.Add((low + 1) % 32), $"lane {lane}, column {col}, k {k}");
                    }
                }
    }

    /// <summary>Where the kernels stage element (line, k): its word in the operand's stage, and for BF16 its half.</summary>
    private static (int Word, int Half) Place((int Line, int K) p, bool kContiguous, bool bf16) =>
        (TensorCoreGemmKernels.StageWord(p.Line, p.K, kContiguous, bf16), bf16 ? TensorCoreGemmKernels.StageHalf(p.Line, p.K,
            kContiguous) : 0);

    private static uint Id(int line, int k) => (uint)(line * 64 + k + 1);

    /// <summary>
    /// The (line, k) of register <paramref name="r"/> of a lane in the mma layouts: an A fragment, or (<paramref name="b"/>)
    /// B0, B1 of lines 0..7 then B0, B1 of lines 8..15; for BF16 the low half's.
    /// </summary>
    private static (int Line, int K) Expected(int lane, int r, bool bf16, bool b)
    {
        if (!b) return (Mma.ARow(lane, r), bf16 ? Mma.Bf16AK(lane, r) : Mma.Tf32AK(lane, r));
        int register = r & 1;
        return (8 * (r >> 1) + Mma.BColumn(lane), bf16 ? Mma.Bf16BK(lane, register) : Mma.Tf32BK(lane, register));
    }

    /// <summary>
    /// GEMMs of every layout and load path in each precision: "tf32" on the kernels whose stages hold 32 of k, "tf32-16" on
    /// those of 16 (where a GPU does not let a kernel opt in to 80 KB of shared memory), "-bounded" on kernels loaded with
    /// their launch bounds, "bf16-copies" on BF16 copies of the operands (which the default takes from 512 rows and columns),
    /// "bf16-pipelined" on copies staged through cp.async, "tf32-pipelined" on TF32 copies so staged.
    /// </summary>
    public static TheoryData<string, string, int, int, int, bool, bool, int, int> Products()
    {
        var data = new TheoryData<string, string, int, int, int, bool, bool, int, int>();
        // The 16-deep TF32 kernels: an edge tile in every dimension, aligned whole tiles, split-K.
        data.Add("tf32-16", "ABt", 130, 70, 37, true, false, 1, 0);
        data.Add("tf32-16", "AB", 132, 136, 32, false, true, 1, 0);
        data.Add("tf32-16", "AtB", 40, 24, 1000, false, true, 16, 0);
        // Kernels loaded with their launch bounds (two blocks of 256 threads a multiprocessor), as on sm_90.
        data.Add("tf32-bounded", "AB", 132, 136, 32, false, true, 1, 0);
        data.Add("bf16-bounded", "ABt", 130, 70, 37, true, false, 1, 0);
        foreach (string precision in new[] { "tf32", "bf16", "bf16-copies", "bf16-pipelined", "tf32-pipelined" })
        {
            // Tile edges in every dimension, both operand layouts of each side, bias and accumulate: strides that are not
            // multiples of 4, so loads are per element.
            data.Add(precision, "ABt", 130, 70, 37, true, false, 1, 0);
            data.Add(precision, "AB", 67, 129, 40, false, true, 1, 0);
            data.Add(precision, "AtB", 45, 33, 70, false, true, 1, 0);
            // Aligned operands with whole tiles in every layout: 16-byte loads (the first with views 16 bytes into their
            // buffers); then views 4 bytes in, which must fall back to loads per element.
            data.Add(precision, "ABt", 136, 132, 48, true, false, 1, 4);
            data.Add(precision, "AB", 132, 136, 32, false, true, 1, 0);
            data.Add(precision, "AtB", 136, 140, 36, false, true, 1, 0);
            data.Add(precision, "ABt", 136, 132, 48, false, true, 1, 1);
            // Split-K (a weight-gradient shape on a pretended GPU of 16 processors) and the skinny adaLN row.
            data.Add(precision, "AtB", 40, 24, 1000, false, true, 16, 0);
            data.Add(precision, "AB", 1, 96, 700, false, false, 16, 0);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Products))]
    public void The_emulated_kernel_matches_the_product_of_rounded_inputs(string precision, string layout, int m, int n, int k,
        bool bias, bool accumulate, int multiprocessors, int offset) // offset: floats before each operand in its buffer
    {
        bool shallow = precision == "tf32-16", bounded = precision.EndsWith("-bounded", StringComparison.Ordinal);
        MatMulPrecision gemm = shallow ? MatMulPrecision.Tf32 : MatMulPrecisions.Parse(precision.Split('-')[0])!.Value;
        var matMul = Enum.Parse<MatMulLayout>(layout);
        bool pipelined = precision.EndsWith("-pipelined", StringComparison.Ordinal);
        Device device = _emulator.Get(gemm, multiprocessors, deepTf32: !shallow, launchBounds: bounded,
            copiesFrom: precision == "bf16-copies" || pipelined ? 1 : null, pipelinedCopies: pipelined);
        Assert.Equal(pipelined, ((IlgpuDevice)device).PipelinedCopies);
        Assert.Equal(bounded, ((IlgpuDevice)device).GemmLaunchBounds);
        Func<float, float> round = gemm == MatMulPrecision.Tf32 ? TensorCoreRounding.Tf32 : TensorCoreRounding.Bf16;
        float[] a = TestData.Random(m * k, seed: m + 1), b = TestData.Random(n * k, seed: n + 2);
        float[] biasValues = TestData.Random(n, seed: 3), initial = TestData.Random(m * n, seed: 4);

        using var aBuffer = device.Allocate<float>(offset + a.Length);
        using var bBuffer = device.Allocate<float>(offset + b.Length);
        using var biasBuffer = device.Allocate<float>(n);
        using var cBuffer = device.Allocate<float>((long)m * n);
        aBuffer.CopyFromHost(offset, a);
        bBuffer.CopyFromHost(offset, b);
        biasBuffer.CopyFromHost(0, biasValues);
        cBuffer.CopyFromHost(0, initial);
        var aTensor = new Tensor<float>(aBuffer, offset, new Shape(a.Length));
        var bTensor = new Tensor<float>(bBuffer, offset, new Shape(b.Length));
        var cTensor = new Tensor<float>(cBuffer, 0, new Shape(m * n));
        if (bias)
            device.Kernels.LinearForward(aTensor, bTensor, new Tensor<float>(biasBuffer, 0, new Shape(n)), cTensor, m, k, n);
        else
            device.Kernels.MatMul(matMul, aTensor, bTensor, cTensor, m, n, k, accumulate);
        device.Synchronize();
        float[] actual = cTensor.ToArray();

        double[] expected = ReferenceLinear.MatMul(matMul, a.Select(x => (double)round(x)).ToArray(),
            b.Select(x => (double)round(x)).ToArray(), m, n, k);
        for (int row = 0; row < m; row++)
            for (int col = 0; col < n; col++)
            {
                int i = row * n + col;
                double want = expected[i] + (bias ? biasValues[col] : 0) + (accumulate ? initial[i] : 0);
                // Products of rounded inputs are exact in fp32; only the fp32 sums' order differs from the double reference.
                Assert.True(Math.Abs(actual[i] - want) <= 2e-6 * (k + 1), $"c[{row}, {col}] = {actual[i]}, expected {want}");
            }
    }

    /// <summary>
    /// The GELU epilogue of the emulated kernels, and of their split-K reduction (a pretended GPU of 16 processors splits
    /// the 40 × 24 product over k), gives the GEMM then GeluForward bit for bit. Every kernel writes its results through the
    /// same epilogue: the rows take the kernels on fp32 operands in each precision and those on copies.
    /// </summary>
    [Theory]
    [InlineData("tf32", 1)]
    [InlineData("bf16", 16)]
    [InlineData("bf16-pipelined", 16)]
    public void The_GELU_epilogue_equals_the_product_then_GELU(string precision, int multiprocessors)
    {
        using var scope = new DeviceScope(Emulated(precision, multiprocessors));
        LinearConformanceTests.CheckLinearGelu(scope, [(136, 48, 132), (40, 1000, 24)]);
    }

    /// <summary>
    /// A NaN input makes its row of the product NaN on every load path (16-byte loads with k = 48; loads per element of
    /// the misaligned rows of k = 37, inside a whole tile and at its k edge), whose rounding skips the NaN test where a
    /// thread's elements sum to a number: the CUDA NaN (all payload bits set), which that rounding alone would turn into
    /// −0, and a NaN whose payload sits in the bits TF32 drops, which it would turn into an infinity. The same through a
    /// TF32 copy (<paramref name="copies"/>, staged by cp.async), whose 16-byte (k = 48) and per-element (k = 37) loads round
    /// with the NaN test.
    /// </summary>
    [Theory]
    [InlineData(0x7FFFFFFF, 48, 7, false)]
    [InlineData(0x7F800001, 48, 7, false)]
    [InlineData(0x7FFFFFFF, 37, 7, false)]
    [InlineData(0x7FFFFFFF, 37, 35, false)]
    [InlineData(0x7F800001, 48, 7, true)]
    [InlineData(0x7FFFFFFF, 37, 7, true)]
    public void A_NaN_input_gives_NaN_results_on_every_load_path(int nanBits, int k, int nanK, bool copies)
    {
        const int m = 136, n = 132, nanRow = 5;
        Device device = copies
            ? _emulator.Get(MatMulPrecision.Tf32, 1, copiesFrom: 1, pipelinedCopies: true)
            : _emulator.Get(MatMulPrecision.Tf32, 1);
        float[] a = TestData.Random(m * k, seed: 1), b = TestData.Random(n * k, seed: 2);
        a[nanRow * k + nanK] = BitConverter.Int32BitsToSingle(nanBits);
        using var scope = new DeviceScope(device);
        var c = scope.Zeros(m * n);
        device.Kernels.MatMul(MatMulLayout.ABt, scope.Upload(a), scope.Upload(b), c, m, n, k, accumulate: false);
        float[] product = DeviceScope.Download(c);
        for (int row = 0; row < m; row++)
            for (int col = 0; col < n; col++)
                Assert.True(float.IsNaN(product[row * n + col]) == (row == nanRow), $"c[{row}, {col}] = {product[row * n + col]}");
    }

    /// <summary>
    /// The GELU' epilogue of the emulated input-gradient GEMM, and of its split-K reduction (the 40 × 24 product over k =
    /// 1,000 on a pretended GPU of 16 processors), gives LinearBackward then GeluBackward bit for bit (the rows as for the
    /// GELU epilogue).
    /// </summary>
    [Theory]
    [InlineData("tf32", 1)]
    [InlineData("bf16", 16)]
    [InlineData("bf16-pipelined", 16)]
    public void The_GELU_gradient_epilogue_equals_the_product_then_GELUs_backward(string precision, int multiprocessors)
    {
        using var scope = new DeviceScope(Emulated(precision, multiprocessors));
        LinearConformanceTests.CheckGeluLinearBackward(scope, [(136, 132, 48), (40, 24, 1000)]);
    }

    /// <summary>
    /// BF16 products on copies of their operands give the direct kernels' results bit for bit: the same BF16 values (the
    /// copy rounds as the direct kernels' staging does) reach the same stage places, so the same products are summed in the
    /// same order. Edges in every dimension (the copies' zero padding), split-K, bias and accumulation, the adaLN row.
    /// The same holds with the copies staged through cp.async ("cp.async"): the same words reach the same places, whatever
    /// carries them, in a k loop of fewer tiles than its ring keeps in flight (1, 2), of as many (3), and of more (10; 11 in
    /// each split of k = 1,000 and 700). On warpgroup products ("warpgroup", emulated: each accumulator sums its products
    /// over a tile's k in order, as the emulated mma.sync does) the same words reach core matrices instead, k-contiguous
    /// copies as K-major operands and line-contiguous ones as MN-major, in every layout (aᵀ·bᵀ: aᵀ·b of one column).
    /// </summary>
    [Theory]
    [InlineData("ABt", 130, 70, 37, 1, false, "registers")]
    [InlineData("AB", 67, 129, 40, 1, true, "registers")]
    [InlineData("AtB", 45, 33, 70, 1, true, "registers")]
    [InlineData("AtB", 40, 24, 1000, 16, false, "registers")]
    [InlineData("ABt", 136, 132, 48, 1, true, "registers")]
    [InlineData("AB", 1, 96, 700, 16, true, "registers")]
    [InlineData("ABt", 130, 70, 20, 1, false, "cp.async")]
    [InlineData("AB", 67, 129, 40, 1, true, "cp.async")]
    [InlineData("AtB", 45, 33, 70, 1, true, "cp.async")]
    [InlineData("AtB", 40, 24, 1000, 16, false, "cp.async")]
    [InlineData("ABt", 136, 132, 300, 1, true, "cp.async")]
    [InlineData("AB", 1, 96, 700, 16, true, "cp.async")]
    [InlineData("ABt", 130, 70, 37, 1, false, "warpgroup")]
    [InlineData("AB", 67, 129, 40, 1, true, "warpgroup")]
    [InlineData("AtB", 45, 33, 70, 1, true, "warpgroup")]
    [InlineData("AtB", 40, 24, 1000, 16, false, "warpgroup")]
    [InlineData("ABt", 136, 132, 300, 1, true, "warpgroup")]
    [InlineData("AtB", 96, 1, 700, 16, true, "warpgroup")]
    public void Bf16_copies_give_the_direct_kernels_results_bit_for_bit(string layout, int m, int n, int k, int multiprocessors,
        bool accumulate, string staging)
    {
        var copies = _emulator.Get(MatMulPrecision.Bf16, multiprocessors, copiesFrom: 1, pipelinedCopies: staging == "cp.async",
            warpgroup: staging == "warpgroup");
        Assert.Equal(staging == "warpgroup", ((IlgpuDevice)copies).WarpgroupProducts);
        AssertSameProducts(Enum.Parse<MatMulLayout>(layout), m, n, k, accumulate,
            _emulator.Get(MatMulPrecision.Bf16, multiprocessors, copiesFrom: int.MaxValue), copies);
    }

    /// <summary>
    /// The same random product, c = op(a)·op(b) [+ c], on a device whose kernels read the operands (<paramref name="direct"/>)
    /// and on one that reads copies of them (<paramref name="copies"/>): equal bit for bit.
    /// </summary>
    internal static void AssertSameProducts(MatMulLayout layout, int m, int n, int k, bool accumulate, Device direct, Device copies)
    {
        float[] a = TestData.Random(m * k, seed: m + 5), b = TestData.Random(n * k, seed: n + 6), initial = TestData.Random(m * n, seed: 7);
        float[] Product(Device device)
        {
            using var scope = new DeviceScope(device);
            var c = scope.Upload(initial);
            device.Kernels.MatMul(layout, scope.Upload(a), scope.Upload(b), c, m, n, k, accumulate);
            return DeviceScope.Download(c);
        }
        float[] expected = Product(direct), actual = Product(copies);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"c[{i / n}, {i % n}]: {actual[i]} on copies, {expected[i]} direct");
    }

    /// <summary>
    /// A linear layer's backward on BF16 copies copies its output gradient once for its two products (the input gradient's
    /// dy·W and the weight gradient's dyᵀ·x read the same words of dy), and gives the direct kernels' gradients bit for
    /// bit. With more rows than output channels the weight gradient's copies need more room than the input gradient's: the
    /// first call, and the first with more rows, grow the workspace between the two and so copy dy again. On TF32 copies
    /// (<paramref name="tf32"/>, staged through cp.async) the two products read dy in different layouts (the weight
    /// gradient's transposed), so each copies it, and the gradients are those of the kernels on fp32 operands bit for bit.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void A_linear_backward_on_copies_copies_its_output_gradient_once(bool gelu, bool tf32)
    {
        const int inChannels = 40, outChannels = 70;
        var precision = tf32 ? MatMulPrecision.Tf32 : MatMulPrecision.Bf16;
        using var copies = _emulator.Unshared(precision, multiprocessors: 1, copiesFrom: 1, pipelinedCopies: tf32);
        Device direct = _emulator.Get(precision, 1, copiesFrom: int.MaxValue);
        var calls = tf32 ? new[] { (136, 4L), (136, 4L), (300, 4L) } : new[] { (136, 4L), (136, 3L), (300, 4L), (120, 3L) };
        foreach (var (rows, passes) in calls)
        {
            long before = copies.CopyPasses;
            float[][] actual = Backward(copies, rows);
            Assert.Equal(passes, copies.CopyPasses - before);
            float[][] expected = Backward(direct, rows);
            for (int t = 0; t < expected.Length; t++)
                for (int i = 0; i < expected[t].Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[t][i]) == BitConverter.SingleToInt32Bits(actual[t][i]),
                        $"rows {rows}, gradient {t}, element {i}: {actual[t][i]} on copies, {expected[t][i]} direct");
        }

        float[][] Backward(Device device, int rows) // [dInput or dPreActivation, dWeight, dBias]
        {
            using var scope = new DeviceScope(device);
            var dy = scope.Upload(TestData.Random(rows * outChannels, seed: 1));
            var (x, w) = (scope.Upload(TestData.Random(rows * inChannels, seed: 2)),
                scope.Upload(TestData.Random(outChannels * inChannels, seed: 3)));
            var (dX, dW, dB) = (scope.Zeros(rows * inChannels), scope.Upload(TestData.Random(outChannels * inChannels, seed: 4)),
                scope.Upload(TestData.Random(outChannels, seed: 5)));
            if (gelu)
                device.Kernels.GeluLinearBackward(dy, x, scope.Upload(TestData.Random(rows * inChannels, seed: 6)), w, dX, dW, dB, rows,
                    inChannels, outChannels);
            else
                device.Kernels.LinearBackward(dy, x, w, dX, dW, dB, rows, inChannels, outChannels, accumulateInput: false);
            return [DeviceScope.Download(dX), DeviceScope.Download(dW), DeviceScope.Download(dB)];
        }
    }

    /// <summary>
    /// A BF16 device takes copies from 512 rows and columns unless told otherwise, staged through registers unless told to
    /// pipeline them (which its description then says); a TF32 one takes copies only where told to pipeline them or to run
    /// them on warpgroup products, which a device takes only where asked.
    /// </summary>
    [Fact]
    public void Bf16_devices_take_copies_of_large_operands_by_default()
    {
        var bf16 = (IlgpuDevice)_emulator.Get(MatMulPrecision.Bf16, 1);
        Assert.Equal(TensorCoreGemm.DefaultCopiesFrom, bf16.CopiesFrom);
        Assert.Contains("on BF16 copies from 512", bf16.Description, StringComparison.Ordinal);
        Assert.False(bf16.PipelinedCopies);
        Assert.DoesNotContain("cp.async", bf16.Description, StringComparison.Ordinal);
        var pipelined = (IlgpuDevice)_emulator.Get(MatMulPrecision.Bf16, 1, pipelinedCopies: true);
        Assert.True(pipelined.PipelinedCopies);
        Assert.Contains("staged by cp.async", pipelined.Description, StringComparison.Ordinal);
        Assert.Equal(int.MaxValue, ((IlgpuDevice)_emulator.Get(MatMulPrecision.Tf32, 1)).CopiesFrom);
        var tf32Pipelined = (IlgpuDevice)_emulator.Get(MatMulPrecision.Tf32, 1, pipelinedCopies: true);
        Assert.True(tf32Pipelined.PipelinedCopies);
        Assert.Equal(TensorCoreGemm.DefaultCopiesFrom, tf32Pipelined.CopiesFrom);
        Assert.Contains("on TF32 copies from 512 staged by cp.async", tf32Pipelined.Description, StringComparison.Ordinal);
        Assert.False(bf16.WarpgroupProducts);
        var warpgroup = (IlgpuDevice)_emulator.Get(MatMulPrecision.Bf16, 1, warpgroup: true);
        Assert.True(warpgroup.WarpgroupProducts);
        Assert.Contains("on BF16 copies from 512 on warpgroup products", warpgroup.Description, StringComparison.Ordinal);
        var tf32Warpgroup = (IlgpuDevice)_emulator.Get(MatMulPrecision.Tf32, 1, warpgroup: true);
        Assert.True(tf32Warpgroup.WarpgroupProducts);
        Assert.Equal(TensorCoreGemm.DefaultCopiesFrom, tf32Warpgroup.CopiesFrom);
    }

    /// <summary>
    /// An emulated device for a precision label of the epilogue theories ("bf16-pipelined": BF16 on copies of every
    /// operand, staged through cp.async).
    /// </summary>
    private Device Emulated(string precision, int multiprocessors) => precision switch
    {
        "bf16-pipelined" => _emulator.Get(MatMulPrecision.Bf16, multiprocessors, copiesFrom: 1, pipelinedCopies: true),
        _ => _emulator.Get(MatMulPrecisions.Parse(precision)!.Value, multiprocessors),
    };

    private static void AssertCovers(List<(int Row, int Column)> positions, int rows, int columns)
    {
        Assert.Equal(rows * columns, positions.Count);
        Assert.Equal(rows * columns, positions.Distinct().Count());
        Assert.All(positions, p => Assert.True(p.Row >= 0 && p.Row < rows && p.Column >= 0 && p.Column < columns, $"{p}"));
    }
}
