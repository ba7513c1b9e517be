using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;
using CopyKernel = System.Action<ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, int, int, int, int>;
using CopyLaunch = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, int,
    int, int, int>;
using GemmKernel = System.Action<ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, IlgpuDiffusion.Ilgpu.Kernels.TensorCoreGemmArguments>;
using GemmLaunch = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, IlgpuDiffusion.Ilgpu.Kernels.TensorCoreGemmArguments>;
using ReduceKernel = System.Action<ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, int, int, int, int, int, int>;
using ReduceLaunch = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, int, int, int, int, int>;
using Tf32CopyKernel = System.Action<ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, int, int, int, int, int,
    int>;
using Tf32CopyLaunch = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    int, int, int, int, int, int, int>;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// The host side of the tensor-core GEMMs (<see cref="TensorCoreGemmKernels"/>): which accelerators have them, how a
/// product is split over k when its M × N has too few tiles to fill the GPU, the workspace of split partials (grown on
/// first use of a larger shape, then reused: a step allocates nothing), and the launches. Splits depend only on the
/// shape and the GPU, so a product is computed the same way every time. TF32 products run on the kernels whose stages
/// hold 32 of k (<see cref="TensorCoreGemmKernels.Tf32DeepABt"/>) where the GPU lets a kernel opt in to their 80 KB of
/// shared memory (every card of compute capability 8.0+ does, through the CUDA driver), else on those of 16. BF16 products
/// of at least <see cref="DefaultCopiesFrom"/> rows and columns (by default) run on BF16 copies of their operands
/// (<see cref="TensorCoreGemmKernels.Bf16CopiesABt"/>), made in a second workspace before each product; a product whose
/// op(a) its caller vouches unchanged since the last product reads that product's copy of it (a linear layer's weight
/// gradient reads the copy of the output gradient that its input gradient made), and a copy its caller keeps
/// (<see cref="KeptCopy"/>: a linear layer's input, or the activation a GELU epilogue writes) is made or read in place.
/// Where asked, products on copies stage
/// their tiles through cp.async in <see cref="TensorCoreGemmKernels.PipelineStages"/> stages
/// (<see cref="TensorCoreGemmKernels.Bf16PipelinedABt"/>, 80 KB of shared memory, loaded on CUDA from rewritten PTX:
/// <see cref="PtxRewrite.SlotsInRegisters"/>), and on the kernels that stage through registers where the GPU refuses the memory.
/// TF32 products take copies only so (<see cref="TensorCoreGemmKernels.Tf32PipelinedABt"/>): a TF32 copy saves no bytes,
/// it holds the operand rounded and k-contiguous, as the stages do, which cp.async needs. Where asked, on a GPU of compute
/// capability 9.0 exactly (Hopper's sm_90a), products on copies run on the warpgroup kernels
/// (<see cref="TensorCoreGemmKernels.Bf16WarpgroupABt"/>, <see cref="TensorCoreGemmKernels.Tf32WarpgroupABt"/>, 96 KB of
/// shared memory), ahead of the pipelined ones; TF32 products then take copies too.
/// </summary>
internal sealed class TensorCoreGemm : IDisposable
{
    /// <summary>Fewest k elements one split handles: below that, the partials' traffic outweighs the parallelism.</summary>
    private const int MinKPerSplit = 256;

    private const int MaxSplits = 32;

    /// <summary>
    /// Fewest rows and columns of a product that runs on copies of its operands, by default. A BF16 copy costs a read and a
    /// half-size write of its operand (6 bytes an element); the product reads each operand from L2 once per 128-wide tile
    /// of the other side (4 bytes an element, 2 on a copy), so a copy of op(a) saves 2·⌈N/128⌉ bytes an element: more than
    /// it costs from N = 385 on, by a margin from 512. A TF32 copy costs 8 bytes an element and saves none; from 512 it is
    /// at most a sixth of the product's operand reads.
    /// </summary>
    public const int DefaultCopiesFrom = 512;

    /// <summary>Most floats (4-byte words) the two copies of one product may take: 1 GiB; larger products read fp32.</summary>
    public const long MaxCopyWords = 1L << 28;

    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly MatMulPrecision _precision;
    private readonly int _multiprocessors;
    /// <summary>
    /// The kernels by operand layouts, index 2·(op(a) k-contiguous) + (op(b) k-contiguous), plus 4 for the batched ones,
    /// plus 8 for the deep TF32 ones, plus 12 for the BF16 ones on copies, plus 16 for those pipelined, plus 20 for the
    /// BF16 warpgroup ones, and 24 the TF32 warpgroup one, loaded on first use.
    /// </summary>
    private readonly GemmLaunch?[] _gemms = new GemmLaunch?[25];
    /// <summary>
    /// k-blocks per stage of the unbatched kernels: <see cref="TensorCoreGemmKernels.DeepBlocks"/> for deep TF32, else 1 (also
    /// from the first deep kernel whose opt-in the driver refused).
    /// </summary>
    private int _blocks;
    /// <summary>Whether products on copies run on the pipelined kernels (false also from the first whose opt-in was refused).</summary>
    private bool _pipelined;
    /// <summary>Whether products on copies run on the warpgroup kernels (false also from the first the GPU refused).</summary>
    private bool _warpgroup;
    /// <summary>The fewest rows and columns of a product on copies, as asked (see <see cref="CopiesFrom"/>).</summary>
    private readonly int _copiesFrom;
    private ReduceLaunch? _reduce;
    private CopyLaunch? _copy;
    private Tf32CopyLaunch? _tf32Copy;
    private MemoryBuffer1D<float, Stride1D.Dense>? _partials, _copies;
    /// <summary>
    /// The op(a) of the last product, when that product took copies: its view and the layout of its copy, which begins
    /// the copies workspace until the next product. Null after a product without copies.
    /// </summary>
    private (ArrayView<float> Source, GemmCopy Layout)? _copyOfA;

    /// <summary>
    /// Binds the GEMMs to the accelerator of <paramref name="stream"/>, where they queue, in <paramref name="precision"/>
    /// (TF32 or BF16).
    /// </summary>
    /// <param name="multiprocessors">The processors split-K fills (the accelerator's when null; tests force splits with it).</param>
    /// <param name="deepTf32">
    /// Whether TF32 products run on the kernels with stages of 32 of k; null: where the accelerator lets them (tests choose
    /// on the emulating CPU accelerator, which has no limit).
    /// </param>
    /// <param name="launchBounds">
    /// Whether kernels load with the launch bounds their <see cref="IlgpuKernelAttribute"/> names; null: on compute capability
    /// <see cref="LaunchBoundsFrom"/> and newer.
    /// </param>
    /// <param name="copiesFrom">
    /// The fewest rows and columns of a product that runs on copies (default <see cref="DefaultCopiesFrom"/>; int.MaxValue:
    /// none): BF16 ones, and TF32 ones where they are pipelined.
    /// </param>
    /// <param name="pipelinedCopies">
    /// Whether products on copies stage through cp.async, where the accelerator grants the shared memory (default: no, the
    /// kernels that stage through registers, until a GPU has timed both).
    /// </param>
    /// <param name="warpgroupProducts">
    /// Whether products on copies (BF16, and TF32 on TF32 copies, which this turns on) run on Hopper's warpgroup products, on
    /// a GPU of compute capability 9.0 that grants their shared memory (or on the emulating CPU accelerator); default: no,
    /// until a GPU has checked and timed them.
    /// </param>
    /// <exception cref="ArgumentException">The accelerator has neither tensor cores nor warps of 32 to emulate them.</exception>
    public TensorCoreGemm(AcceleratorStream stream, MatMulPrecision precision, int? multiprocessors = null, bool? deepTf32 = null,
        bool? launchBounds = null, int? copiesFrom = null, bool? pipelinedCopies = null, bool? warpgroupProducts = null)
    {
        var accelerator = stream.Accelerator;
        if (!Supports(accelerator) && !Emulates(accelerator))
            throw new ArgumentException($"{accelerator.Name} has no tensor cores this library drives (CUDA, compute capability 8.0+).");
        if (precision == MatMulPrecision.Fp32)
            throw new ArgumentOutOfRangeException(nameof(precision), "fp32 GEMMs run on the SIMT kernel, not on tensor cores.");
        _accelerator = accelerator;
        _stream = stream;
        _precision = precision;
        _multiprocessors = Math.Max(1, multiprocessors ?? accelerator.NumMultiprocessors);
        bool deep = precision == MatMulPrecision.Tf32 && (deepTf32 ?? SharedMemoryOptIn.Fits(accelerator, DeepSharedBytes));
        _blocks = deep ? TensorCoreGemmKernels.DeepBlocks : 1;
        LaunchBounds = launchBounds ?? accelerator is CudaAccelerator { Architecture.Major: >= LaunchBoundsFrom };
        _copiesFrom = Math.Max(1, copiesFrom ?? DefaultCopiesFrom);
        _pipelined = _copiesFrom < int.MaxValue && (pipelinedCopies ?? false) &&
            SharedMemoryOptIn.Fits(accelerator, PipelinedSharedBytes);
        _warpgroup = _copiesFrom < int.MaxValue && (warpgroupProducts ?? false) &&
            (Emulates(accelerator) || accelerator is CudaAccelerator { Architecture: { Major: 9, Minor: 0 } }) &&
            SharedMemoryOptIn.Fits(accelerator, WarpgroupSharedBytes);
    }

    /// <summary>Whether products on copies stage their tiles through cp.async.</summary>
    public bool PipelinedCopies => _pipelined;

    /// <summary>Whether products on copies run on Hopper's warpgroup products.</summary>
    public bool WarpgroupProducts => _warpgroup;

    /// <summary>
    /// The fewest rows and columns of a product that runs on copies of its operands (int.MaxValue: none): BF16 copies under
    /// bf16; TF32 ones under tf32 while they are pipelined or on warpgroup products (a first product whose kernel the GPU
    /// refused ends that).
    /// </summary>
    public int CopiesFrom => _precision == MatMulPrecision.Bf16 || _pipelined || _warpgroup ? _copiesFrom : int.MaxValue;

    /// <summary>
    /// The compute capability (major) from which the kernels load with their launch bounds by default: two blocks of 256
    /// threads a multiprocessor (<see cref="TensorCoreGemmKernels.ResidentBlocks"/>), which CUDA 11.8's ptxas fits in 128
    /// registers without spilling for sm_90; for sm_80 it spills 4–24 bytes in the BF16 and deep TF32 kernels.
    /// </summary>
    public const int LaunchBoundsFrom = 9;

    /// <summary>Whether kernels load with their launch bounds.</summary>
    public bool LaunchBounds { get; }

    /// <summary>Whether the TF32 kernels of the unbatched products hold 32 of k per stage (else 16).</summary>
    public bool DeepTf32 => _blocks > 1;

    /// <summary>The copies of operands queued so far, each a pass over its operand (a reused copy is not one).</summary>
    public long CopyPasses { get; private set; }

    private static int DeepSharedBytes => TensorCoreGemmKernels.SharedFloatsOf(TensorCoreGemmKernels.DeepBlocks) * sizeof(float);

    private static int PipelinedSharedBytes => TensorCoreGemmKernels.PipelinedSharedFloats * sizeof(float);

    private static int WarpgroupSharedBytes => TensorCoreGemmKernels.WarpgroupSharedFloats * sizeof(float);

    /// <summary>Whether <paramref name="accelerator"/> runs mma.sync with TF32 and BF16 (a CUDA GPU of compute capability 8.0+).</summary>
    public static bool Supports(Accelerator accelerator) => accelerator is CudaAccelerator cuda && cuda.Architecture.Major >= 8;

    /// <summary>
    /// Whether the kernels run on <paramref name="accelerator"/> by emulating mma.sync with warp shuffles: ILGPU's CPU
    /// accelerator with warps of 32 (the fragment layouts need them), for testing everything but the instructions.
    /// </summary>
    public static bool Emulates(Accelerator accelerator) =>
        accelerator.AcceleratorType == AcceleratorType.CPU && accelerator.WarpSize == Mma.WarpLanes &&
        accelerator.MaxNumThreadsPerGroup >= TensorCoreGemmKernels.Threads;

    /// <summary>The k elements of each split (whole tiles) and the number of splits for an [m, n] result over k.</summary>
    public (int KPerSplit, int Splits) Split(int m, int n, int k)
    {
        // Whole tiles of the kernels staged through registers or cp.async, also where products run on warpgroup products, so
        // that every kernel sums the same splits: a warpgroup tile holds two of them (128 bytes of k), and a split of an odd
        // number ends in one whose second half is zeros
        int tileK = TensorCoreGemmKernels.TileK(_precision == MatMulPrecision.Bf16) * _blocks;
        long tiles = (long)LaunchPlan.Ceil(m, TensorCoreGemmKernels.TileM) * LaunchPlan.Ceil(n, TensorCoreGemmKernels.TileN);
        int wanted = tiles >= _multiprocessors ? 1 : (int)Math.Min(MaxSplits, LaunchPlan.Ceil(2 * _multiprocessors, (int)tiles));
        int splits = Math.Max(1, Math.Min(wanted, k / MinKPerSplit));
        int kPerSplit = LaunchPlan.Ceil(LaunchPlan.Ceil(k, splits), tileK) * tileK;
        return (kPerSplit, LaunchPlan.Ceil(k, kPerSplit));
    }

    /// <summary>
    /// Words of the BF16 copy a caller keeps (<see cref="KeptCopy"/>) of a linear layer's input [<paramref name="rows"/>,
    /// <paramref name="channels"/>], row-major: the copy of op(a) of its forward, and of op(b) of its weight gradient, which
    /// hold the same words (<see cref="GemmCopy.SameWords"/>). 0 where products take no BF16 copies (TF32, copies turned off)
    /// or where the layer's forward, of <paramref name="rows"/> rows, or its weight gradient, of
    /// <paramref name="channels"/> columns, is too small for them (fewer than <see cref="CopiesFrom"/>): a product that
    /// reads a made copy runs on copies whatever its shape.
    /// </summary>
    public long KeptCopyWords(int rows, int channels) => _precision == MatMulPrecision.Bf16 && rows >= _copiesFrom &&
        channels >= _copiesFrom ? new GemmCopy(rows, channels, channels, 1, bf16: true).Words : 0;

    /// <summary>
    /// c [m, n] = op(a)·op(b) [+ c] [+ bias]; strides as <see cref="GemmArguments"/>, shapes already checked, m, n, k ≥ 1;
    /// with a GELU <paramref name="epilogue"/> GELU of each result also goes to <paramref name="activation"/> [m, n].
    /// </summary>
    /// <param name="aUnchanged">
    /// The caller's word that nothing wrote <paramref name="a"/> since the last product: where that product read the same
    /// view as its op(a) and its copy holds the words this product's copy would (the input and weight gradients of a
    /// linear layer both read its output gradient so), this product reads that copy instead of making one.
    /// </param>
    /// <param name="keptA">
    /// A BF16 copy of op(a) that the caller keeps (none by default): where the product runs on copies it makes op(a)'s copy
    /// there or reads it there; where it does not, it still makes a copy not yet made, which the caller will read.
    /// </param>
    /// <param name="keptB">The same for op(b).</param>
    /// <param name="activationCopy">
    /// With a GELU epilogue under BF16 (none by default), where GELU's results go as a BF16 copy of [m, n] (as
    /// <see cref="KeptCopy"/>'s of a k-contiguous operand), in place of <paramref name="activation"/>: written by the epilogue
    /// (<see cref="GemmEpilogue.ProductAndGeluCopy"/>) where n is a multiple of 8 and the product is not split, else copied
    /// from <paramref name="activation"/> after it.
    /// </param>
    public void Run(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, bool hasBias, int m, int n,
        int k, (int ARow, int AK, int BK, int BCol) strides, bool accumulate, ArrayView<float> activation,
        GemmEpilogue epilogue = GemmEpilogue.Product, bool aUnchanged = false, KeptCopy keptA = default, KeptCopy keptB = default,
        ArrayView<float> activationCopy = default)
    {
        var (kPerSplit, splits) = Split(m, n, k);
        var activationLayout = new GemmCopy(m, n, n, 1, bf16: true);
        CheckKept(new KeptCopy(activationCopy, Made: false), activationLayout, nameof(activationCopy));
        if (activationCopy.IsValid && epilogue is not (GemmEpilogue.ProductAndGelu or GemmEpilogue.GeluOnly))
            throw new ArgumentException($"Only a GELU epilogue writes an activation's copy, not {epilogue}.", nameof(activationCopy));
        bool pairs = activationCopy.IsValid && n % TensorCoreGemmKernels.CopyAlignment == 0 && splits == 1;
        if (pairs)
            (epilogue, activation) = (epilogue == GemmEpilogue.GeluOnly ? GemmEpilogue.GeluCopyOnly : GemmEpilogue.ProductAndGeluCopy,
                activationCopy.SubView(0, activationLayout.Words));
        bool bf16 = _precision == MatMulPrecision.Bf16;
        var copyA = new GemmCopy(m, k, strides.ARow, strides.AK, bf16);
        var copyB = new GemmCopy(n, k, strides.BCol, strides.BK, bf16);
        CheckKept(keptA, copyA, nameof(keptA));
        CheckKept(keptB, copyB, nameof(keptB));
        long bAt = keptA.Given ? 0 : copyA.Words, words = bAt + (keptB.Given ? 0 : copyB.Words); // the workspace's part
        bool forced = keptA.Made || keptB.Made; // a made copy is read, whatever the product's shape
        bool copies = forced || OnCopies(m, n, words);
        // Loaded before the copies are made: a pipelined kernel whose shared memory the GPU refuses ends TF32 copies.
        var gemm = Kernel(aKContiguous: strides.AK == 1, bKContiguous: strides.BK == 1, batched: false, copies);
        copies &= forced || m >= CopiesFrom && n >= CopiesFrom;
        bool reuse = copies && !keptA.Given && aUnchanged && _copyOfA is { } kept && SameView(kept.Source, a) &&
            kept.Layout.SameWords(copyA) && _copies!.Length >= words; // a workspace that must grow loses the copy
        _copyOfA = copies && !keptA.Given ? (a, copyA) : null;
        if (copies)
        {
            var workspace = words > 0 ? Copies(words).View : default;
            a = keptA.Given ? Kept(a, copyA, keptA)
                : reuse ? workspace.SubView(0, copyA.Words)
                : Copy(a, copyA, workspace.SubView(0, copyA.Words));
            b = keptB.Given ? Kept(b, copyB, keptB) : Copy(b, copyB, workspace.SubView(bAt, copyB.Words));
            strides = (copyA.LineStride, copyA.KStride, copyB.KStride, copyB.LineStride);
        }
        else
        {
            if (keptA is { Given: true, Made: false }) Kept(a, copyA, keptA);
            if (keptB is { Given: true, Made: false }) Kept(b, copyB, keptB);
        }
        bool vectorA = copies || Aligned(a, strides.ARow, strides.AK), vectorB = copies || Aligned(b, strides.BCol, strides.BK);
        bool warpgroup = copies && _warpgroup, pipelined = copies && !warpgroup && _pipelined;
        var arguments = new TensorCoreGemmArguments(m, n, k, strides.ARow, strides.AK, strides.BK, strides.BCol,
            kPerSplit, accumulate ? 1 : 0, hasBias ? 1 : 0, splits > 1 ? 1 : 0, vectorA ? 1 : 0, vectorB ? 1 : 0, (int)epilogue,
            n, GemmBatch.None, Scale: 1f, pipelined || warpgroup ? Address(a) : 0, pipelined || warpgroup ? Address(b) : 0);
        var config = Config(m, n, splits, warpgroup ? TensorCoreGemmKernels.WarpgroupSharedFloats
            : pipelined ? TensorCoreGemmKernels.PipelinedSharedFloats
            : TensorCoreGemmKernels.SharedFloatsOf(_blocks));
        if (splits == 1)
            gemm(_stream, config, a, b, bias, c, activation, arguments);
        else
        {
            long elements = (long)m * n;
            var partials = Partials(splits * elements).View.SubView(0, splits * elements);
            gemm(_stream, config, a, b, bias, partials, activation, arguments);
            _reduce ??= _accelerator.LoadCachedAutoGrouped(KernelRegistry.Checked<ReduceKernel>(TensorCoreGemmKernels.ReduceSplits));
            _reduce(_stream, checked((int)elements), partials, bias, c, activation, (int)elements, n, splits, accumulate ? 1 : 0,
                hasBias ? 1 : 0, (int)epilogue);
        }
        if (activationCopy.IsValid && !pairs) Copy(activation, activationLayout, activationCopy.SubView(0, activationLayout.Words));
    }

    /// <summary>
    /// c_z [m, n] = op(a_z)·op(b_z) [+ c_z] for the <paramref name="items"/> of <paramref name="batch"/>, in one launch (grid
    /// z; never split over k: the items fill the GPU), each result through <paramref name="scores"/>' epilogue if given.
    /// Strides as <see cref="Run"/>'s, with c's rows <paramref name="cRow"/> apart; shapes already checked, m, n, k ≥ 1.
    /// </summary>
    /// <exception cref="ArgumentException">op(a) is row-contiguous and op(b) k-contiguous (aᵀ·bᵀ), a layout with no batched
    /// kernel.</exception>
    public void RunBatched(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int m, int n, int k,
        (int ARow, int AK, int BK, int BCol) strides, int cRow, GemmBatch batch, int items, bool accumulate,
        ScoreEpilogue? scores = null)
    {
        if (strides.AK != 1 && strides.BK == 1)
            throw new ArgumentException("Batched GEMMs take the layouts a·bᵀ, a·b and aᵀ·b, not aᵀ·bᵀ.", nameof(strides));
        _copyOfA = null;
        bool vectorA = Aligned(a, strides.ARow, strides.AK) && AlignedItems(batch.A);
        bool vectorB = Aligned(b, strides.BCol, strides.BK) && AlignedItems(batch.B);
        var epilogue = scores ?? new ScoreEpilogue(GemmEpilogue.Product, c, c, 1f);
        var arguments = new TensorCoreGemmArguments(m, n, k, strides.ARow, strides.AK, strides.BK, strides.BCol, k,
            accumulate ? 1 : 0, HasBias: 0, Partials: 0, vectorA ? 1 : 0, vectorB ? 1 : 0, (int)epilogue.Kind, cRow, batch,
            epilogue.Scale);
        Kernel(aKContiguous: strides.AK == 1, bKContiguous: strides.BK == 1, batched: true, copies: false)(_stream,
            Config(m, n, LaunchPlan.GridYZ(items, "GEMM items"), TensorCoreGemmKernels.SharedFloats), a, b, epilogue.Rows, c,
            epilogue.Probabilities, arguments);
    }

    /// <summary>
    /// A launch of [m, n] results in 128 × 128 tiles, <paramref name="depth"/> of them (splits or items) in z, by a kernel of
    /// <paramref name="sharedFloats"/> floats of dynamic shared memory.
    /// </summary>
    private static KernelConfig Config(int m, int n, int depth, int sharedFloats) => new(
        new Index3D(LaunchPlan.Ceil(n, TensorCoreGemmKernels.TileN),
            LaunchPlan.GridYZ(LaunchPlan.Ceil(m, TensorCoreGemmKernels.TileM), "GEMM row tiles"), depth),
        new Index3D(TensorCoreGemmKernels.Threads, 1, 1),
        SharedMemoryConfig.RequestDynamic<float>(sharedFloats));

    /// <summary>The global address of a view's first element (the pipelined kernels' cp.async reads from it).</summary>
    internal static long Address<TView>(TView view) where TView : IContiguousArrayView =>
        view.Buffer.NativePtr.ToInt64() + view.IndexInBytes;

    /// <summary>Whether two views are the same bytes of the same buffer, read through the interface without boxing them.</summary>
    private static bool SameView<TView>(TView x, TView y) where TView : IContiguousArrayView =>
        x.Buffer == y.Buffer && x.IndexInBytes == y.IndexInBytes && x.LengthInBytes == y.LengthInBytes;

    /// <summary>Whether every item of a batched operand starts on 16 bytes when its first does.</summary>
    private static bool AlignedItems(BatchOffsets offsets) => (offsets.Outer | offsets.Inner | offsets.Item) % 4 == 0;

    /// <summary>
    /// Whether an operand's groups of four along its contiguous axis (<see cref="TensorCoreGemmKernels.Position"/>) start on
    /// 16 bytes: that axis has stride 1, the other stride is a multiple of 4 and the view starts on 16 bytes of its buffer
    /// (whose own start is aligned far more). The contiguous axis is k where <paramref name="kStride"/> is 1, else the lines.
    /// </summary>
    private static bool Aligned(ArrayView<float> view, int lineStride, int kStride)
    {
        var (otherStride, contiguousStride) = kStride == 1 ? (lineStride, 1) : (kStride, lineStride);
        return contiguousStride == 1 && otherStride % 4 == 0 && ViewAlignment.On16Bytes(view);
    }

    /// <summary>
    /// The kernel for operands whose k is (or is not) their contiguous axis; either kernel is right for any strides, the
    /// matching one reads global memory in whole lines. Batched: not aᵀ·bᵀ.
    /// </summary>
    private GemmLaunch Kernel(bool aKContiguous, bool bKContiguous, bool batched, bool copies)
    {
        bool deep = DeepTf32 && !batched;
        if (copies && _warpgroup) return WarpgroupKernel(aKContiguous, bKContiguous);
        if (copies && _pipelined) return PipelinedKernel(aKContiguous, bKContiguous);
        bool bf16Copies = copies && _precision == MatMulPrecision.Bf16; // TF32 ones are pipelined, or none
        int index = (bf16Copies ? 12 : deep ? 8 : batched ? 4 : 0) + (aKContiguous ? 2 : 0) + (bKContiguous ? 1 : 0);
        if (_gemms[index] is { } loaded) return loaded;
        GemmKernel kernel = KernelRegistry.Checked<GemmKernel>(bf16Copies
            ? CopiesKernel(aKContiguous, bKContiguous)
            : deep
            ? DeepKernel(aKContiguous, bKContiguous)
            : (_precision == MatMulPrecision.Bf16, aKContiguous, bKContiguous, batched) switch
            {
                (false, true, true, false) => TensorCoreGemmKernels.Tf32ABt,
                (false, true, false, false) => TensorCoreGemmKernels.Tf32AB,
                (false, false, false, false) => TensorCoreGemmKernels.Tf32AtB,
                (false, false, true, false) => TensorCoreGemmKernels.Tf32AtBt,
                (true, true, true, false) => TensorCoreGemmKernels.Bf16ABt,
                (true, true, false, false) => TensorCoreGemmKernels.Bf16AB,
                (true, false, false, false) => TensorCoreGemmKernels.Bf16AtB,
                (true, false, true, false) => TensorCoreGemmKernels.Bf16AtBt,
                (false, true, true, true) => TensorCoreGemmKernels.Tf32ABtBatched,
                (false, true, false, true) => TensorCoreGemmKernels.Tf32ABBatched,
                (false, false, false, true) => TensorCoreGemmKernels.Tf32AtBBatched,
                (true, true, true, true) => TensorCoreGemmKernels.Bf16ABtBatched,
                (true, true, false, true) => TensorCoreGemmKernels.Bf16ABBatched,
                (true, false, false, true) => TensorCoreGemmKernels.Bf16AtBBatched,
                _ => throw new System.Diagnostics.UnreachableException("RunBatched refuses aᵀ·bᵀ."),
            });
        GemmLaunch launch = _accelerator.LoadCached(kernel,
            LaunchBounds ? KernelRegistry.Specialization(kernel.Method) : KernelSpecialization.Empty);
        if (deep && !SharedMemoryOptIn.Allow(launch.GetKernel(), DeepSharedBytes))
        {
            _blocks = 1; // k-splits of multiples of 32 stay whole tiles of 16
            return Kernel(aKContiguous, bKContiguous, batched, copies);
        }
        return _gemms[index] = launch;
    }

    /// <summary>
    /// The pipelined kernel on copies for the layouts: on CUDA from its rewritten PTX, on the emulating CPU accelerator as
    /// ILGPU compiles it. From the first whose 80 KB the driver refused, BF16 products run on the kernel on copies that
    /// stages through registers, and TF32 ones (whose copies then end) on the kernel for fp32 operands.
    /// </summary>
    private GemmLaunch PipelinedKernel(bool aKContiguous, bool bKContiguous)
    {
        bool bf16 = _precision == MatMulPrecision.Bf16; // TF32 copies are all k-contiguous: one kernel
        int index = 16 + (bf16 ? (aKContiguous ? 2 : 0) + (bKContiguous ? 1 : 0) : 3);
        if (_gemms[index] is { } loaded) return loaded;
        GemmKernel kernel = KernelRegistry.Checked<GemmKernel>((bf16, aKContiguous, bKContiguous) switch
        {
            (true, true, true) => TensorCoreGemmKernels.Bf16PipelinedABt,
            (true, true, false) => TensorCoreGemmKernels.Bf16PipelinedAB,
            (true, false, false) => TensorCoreGemmKernels.Bf16PipelinedAtB,
            (true, false, true) => TensorCoreGemmKernels.Bf16PipelinedAtBt,
            (false, _, _) => TensorCoreGemmKernels.Tf32PipelinedABt,
        });
        var bounds = LaunchBounds ? KernelRegistry.Specialization(kernel.Method) : KernelSpecialization.Empty;
        var launch = _accelerator.LoadCached(kernel, bounds);
        if (!SharedMemoryOptIn.Allow(launch.GetKernel(), PipelinedSharedBytes))
        {
            _pipelined = false;
            return Kernel(aKContiguous, bKContiguous, batched: false, copies: true);
        }
        return _gemms[index] = launch;
    }

    /// <summary>
    /// The warpgroup kernel for the layouts (TF32 copies are all k-contiguous: one kernel): on CUDA from its PTX rewritten
    /// for sm_90a, on the emulating CPU accelerator as ILGPU compiles it. From the first that the driver refused (its 96 KB
    /// of shared memory, or a driver whose JIT compiler predates PTX ISA 8.0), products on copies run on the pipelined
    /// kernels where asked, else BF16 ones on those that stage through registers and TF32 ones (whose copies then end) on
    /// the kernels for fp32 operands.
    /// </summary>
    private GemmLaunch WarpgroupKernel(bool aKContiguous, bool bKContiguous)
    {
        bool bf16 = _precision == MatMulPrecision.Bf16;
        int index = bf16 ? 20 + (aKContiguous ? 2 : 0) + (bKContiguous ? 1 : 0) : 24;
        if (_gemms[index] is { } loaded) return loaded;
        GemmKernel kernel = KernelRegistry.Checked<GemmKernel>((bf16, aKContiguous, bKContiguous) switch
        {
            (true, true, true) => TensorCoreGemmKernels.Bf16WarpgroupABt,
            (true, true, false) => TensorCoreGemmKernels.Bf16WarpgroupAB,
            (true, false, false) => TensorCoreGemmKernels.Bf16WarpgroupAtB,
            (true, false, true) => TensorCoreGemmKernels.Bf16WarpgroupAtBt,
            (false, _, _) => TensorCoreGemmKernels.Tf32WarpgroupABt,
        });
        var bounds = LaunchBounds ? KernelRegistry.Specialization(kernel.Method) : KernelSpecialization.Empty;
        GemmLaunch? launch;
        try
        {
            launch = _accelerator.LoadCached(kernel, bounds);
        }
        catch (CudaException)
        {
            launch = null;
        }
        if (launch is null || !SharedMemoryOptIn.Allow(launch.GetKernel(), WarpgroupSharedBytes))
        {
            _warpgroup = false;
            return Kernel(aKContiguous, bKContiguous, batched: false, copies: true);
        }
        return _gemms[index] = launch;
    }

    private static GemmKernel DeepKernel(bool aKContiguous, bool bKContiguous) => (aKContiguous, bKContiguous) switch
    {
        (true, true) => TensorCoreGemmKernels.Tf32DeepABt,
        (true, false) => TensorCoreGemmKernels.Tf32DeepAB,
        (false, false) => TensorCoreGemmKernels.Tf32DeepAtB,
        (false, true) => TensorCoreGemmKernels.Tf32DeepAtBt,
    };

    private static GemmKernel CopiesKernel(bool aKContiguous, bool bKContiguous) => (aKContiguous, bKContiguous) switch
    {
        (true, true) => TensorCoreGemmKernels.Bf16CopiesABt,
        (true, false) => TensorCoreGemmKernels.Bf16CopiesAB,
        (false, false) => TensorCoreGemmKernels.Bf16CopiesAtB,
        (false, true) => TensorCoreGemmKernels.Bf16CopiesAtBt,
    };

    /// <summary>Whether a product of [m, n] whose copies in the workspace take <paramref name="words"/> runs on copies.</summary>
    private bool OnCopies(int m, int n, long words) => m >= CopiesFrom && n >= CopiesFrom && words <= MaxCopyWords;

    /// <summary>Throws unless a kept copy is BF16 and holds the copy's words.</summary>
    private void CheckKept(in KeptCopy kept, in GemmCopy layout, string name)
    {
        if (!kept.Given) return;
        if (_precision != MatMulPrecision.Bf16)
            throw new InvalidOperationException($"Only BF16 copies are kept; these products are {_precision}.");
        if (kept.View.Length < layout.Words)
            throw new ArgumentException($"The kept copy has {kept.View.Length} words; the operand's takes {layout.Words}.", name);
    }

    /// <summary>The kept copy's words for <paramref name="layout"/>, made from <paramref name="x"/> unless they are.</summary>
    private ArrayView<float> Kept(ArrayView<float> x, in GemmCopy layout, in KeptCopy kept)
    {
        var view = kept.View.SubView(0, layout.Words);
        return kept.Made ? view : Copy(x, layout, view);
    }

    /// <summary>
    /// Queues the copy of <paramref name="x"/>, laid out as <paramref name="layout"/> says, into <paramref name="copy"/>.
    /// </summary>
    private ArrayView<float> Copy(ArrayView<float> x, in GemmCopy layout, ArrayView<float> copy)
    {
        int quadsPerRow = layout.WordsPerRow / 4;
        if (layout.Bf16)
        {
            _copy ??= _accelerator.LoadCachedAutoGrouped(KernelRegistry.Checked<CopyKernel>(TensorCoreGemmKernels.CopyBf16));
            bool vector = layout.SourceInnerStride == 1 && layout.SourceOuterStride % 4 == 0 && ViewAlignment.On16Bytes(x);
            _copy(_stream, checked((int)(layout.Words / 4)), x, copy, layout.Inner, quadsPerRow, layout.SourceOuterStride,
                layout.SourceInnerStride, vector ? 1 : 0);
        }
        else
        {
            _tf32Copy ??= _accelerator.LoadCachedAutoGrouped(KernelRegistry.Checked<Tf32CopyKernel>(TensorCoreGemmKernels.CopyTf32));
            bool vector = !layout.Transposed && layout.SourceLineStride % 4 == 0 && ViewAlignment.On16Bytes(x);
            int threads = checked((int)TensorCoreGemmKernels.Tf32CopyThreads(layout.Lines, quadsPerRow, layout.Transposed));
            _tf32Copy(_stream, threads, x, copy, layout.Lines, layout.K, layout.SourceLineStride, layout.SourceKStride,
                quadsPerRow, layout.Transposed ? 1 : 0, vector ? 1 : 0);
        }
        CopyPasses++;
        return copy;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Copies(long words)
    {
        if (_copies is null || _copies.Length < words)
        {
            IlgpuKernels.Release(_accelerator, _copies);
            _copies = _accelerator.Allocate1D<float>(words);
        }
        return _copies;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Partials(long length)
    {
        if (_partials is null || _partials.Length < length)
        {
            IlgpuKernels.Release(_accelerator, _partials);
            _partials = _accelerator.Allocate1D<float>(length);
        }
        return _partials;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        IlgpuKernels.Release(_accelerator, _partials);
        IlgpuKernels.Release(_accelerator, _copies);
    }
}
