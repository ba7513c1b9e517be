using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>One tensor-core GEMM launch (see <see cref="GemmArguments"/> for the strides that encode the layout).</summary>
/// <param name="KPerSplit">k elements of one split (a multiple of the tile's k), or K when the launch does not split k.</param>
/// <param name="Partials">1: write each split's product to c as [splits, M, N] partials for
/// <see cref="TensorCoreGemmKernels.ReduceSplits"/> (no bias, no accumulate); 0: write the result.</param>
/// <param name="VectorA">1 when op(a)'s groups of four along its contiguous axis are 16-byte aligned (that axis has stride 1,
/// the other a multiple of 4, the view starts on 16 bytes): whole tiles then load with 16-byte loads.</param>
/// <param name="VectorB">The same for op(b).</param>
/// <param name="Epilogue">A <see cref="GemmEpilogue"/>: what the result's writes do with each value.</param>
/// <param name="CRowStride">Elements between rows of c (N where c is dense; always N for partials).</param>
/// <param name="Batch">The products of a batched launch, one per grid z (<see cref="GemmBatch.None"/> else).</param>
/// <param name="Scale">The factor of the score epilogues (batched launches only; 1 elsewhere).</param>
/// <param name="AAddress">The global address of a's first element, where the pipelined kernels' cp.async reads it (0 for the
/// others, which read through the view).</param>
/// <param name="BAddress">The same for b.</param>
internal readonly record struct TensorCoreGemmArguments(
    int M, int N, int K, int ARowStride, int AKStride, int BKStride, int BColStride,
    int KPerSplit, int Accumulate, int HasBias, int Partials, int VectorA, int VectorB, int Epilogue, int CRowStride,
    GemmBatch Batch, float Scale, long AAddress = 0, long BAddress = 0);

/// <summary>What a GEMM's result writes do with each value (bias and accumulation added).</summary>
internal enum GemmEpilogue
{
    /// <summary>c = the value.</summary>
    Product = 0,

    /// <summary>c = the value and activation = GELU(value) (a Linear followed by GELU, whose backward reads the former).</summary>
    ProductAndGelu = 1,

    /// <summary>activation = GELU(value) only.</summary>
    GeluOnly = 2,

    /// <summary>
    /// c = GELU'(activation)·value, activation read as the pre-activations of a GELU (the input gradient of the Linear after
    /// it, taken on through the GELU); no bias, no accumulation.
    /// </summary>
    GeluGradient = 3,

    /// <summary>
    /// Batched launches only, the items' scores of attention: c = exp(Scale·value − rows[n·M + row]) for item n (the
    /// probabilities from the log-sum-exp of each query row, passed as the bias view).
    /// </summary>
    Probabilities = 4,

    /// <summary>As <see cref="Probabilities"/>, 0 where the key (column) comes after the query (row).</summary>
    CausalProbabilities = 5,

    /// <summary>
    /// Batched launches only, dS of attention from dP = the value: c = activation·(value − rows[n·M + row])·Scale,
    /// activation the item's probabilities (at c's place in their own scratch), rows the row dots D (the bias view).
    /// </summary>
    ScoreGradients = 6,

    /// <summary>
    /// Unbatched, unsplit launches of N a multiple of 8 only: c = the value, and GELU(value) to activation as a BF16 copy
    /// of [M, N] (<see cref="TensorCoreGemmKernels.CopyBf16"/>'s words: the pair of columns 2j, 2j + 1 in word row·N/2 + j,
    /// the lower column in the low half), which a following product reads in place of GELU's fp32 results.
    /// </summary>
    ProductAndGeluCopy = 7,

    /// <summary>As <see cref="ProductAndGeluCopy"/> without c: the copy of GELU(value) only.</summary>
    GeluCopyOnly = 8,
}

/// <summary>
/// GEMM on tensor cores (sm_80 and newer) through inline PTX: c [M, N] = op(a)·op(b) [+ c] [+ bias[col]] with fp32
/// storage and accumulation and TF32 (m16n8k8) or BF16 (m16n8k16) products. A block of 8 warps computes a 128 × 128
/// tile of c, each warp 64 × 32 as 4 × 4 mma fragments held in registers (<see cref="WarpAccumulators"/>). k advances
/// 16 (TF32) or 32 (BF16, packed two to a word: the same shared memory, and half the loop's fixed cost per product) at
/// a time through two shared-memory stages: while a stage's products run, each thread's loads of the next tile (8 TF32
/// or 16 BF16 elements of each operand: two groups of consecutive ones along the operand's contiguous axis, 16-byte
/// loads where the operand is aligned, else bounds-checked loads with zero fill) are in flight into registers, stored
/// to the other stage afterwards (a 16-byte shared store per group); one barrier per tile; 40 KB of dynamic shared
/// memory, under the 48 KB every launch may use (the deep TF32 kernels, TensorCoreGemmKernels.Deep.cs, stage two such
/// blocks of k at a time in 80 KB). (cp.async skips the registers, but ILGPU passes every inline-PTX operand given
/// by reference — the mma accumulators and fragments, ldmatrix's results, Emit's out value — through a slot of local
/// memory, which ptxas turns into registers only in a kernel without cp.async: CUDA 11.8's and 12.4's ptxas alike keep
/// a stack frame then. Operands given to Emit by value take no slot. Kernels on copies of the operands, BF16 ones and
/// TF32 ones laid out as the stages are, stage through cp.async in TensorCoreGemmKernels.Pipelined.cs, which CUDA loads
/// from PTX whose slots PtxLocalSlots rewrote into registers.) Each operand is staged in the layout its global memory is
/// contiguous in (<see cref="StageWord"/>: rows along k, or rows along the lines), which keeps the fragment reads free
/// of shared-memory bank conflicts, and the copies too but for TF32 operands whose lines are contiguous (their 16-byte
/// stores meet two to a bank). Inputs are rounded once, on their way into shared memory, not at every fragment read: TF32 ones in
/// place, BF16 ones packed two to a word. Fragments load with ldmatrix, one instruction for an A fragment or for two B
/// fragments where four would be shared loads (BF16 rows along the lines load transposed), except TF32 ones of an
/// operand whose lines are contiguous (a transposed ldmatrix would split their words): staged with k and k + 4
/// interleaved, a B fragment is one 8-byte read and an A fragment four word reads.
/// <para>
/// The operand layouts are type parameters (one kernel per pair), so every shared-memory offset past a thread's base is
/// a constant of the instruction and every global offset a multiple of one stride: the hot loop is loads, stores and
/// mma, not index arithmetic (a first version computing each element's place from the thread index spent 1,400
/// instructions per 32 mma; on an H200 it ran at a sixth of cuBLAS's TF32 rate, issue-bound on integer work).
/// </para>
/// Splitting k over the grid's z (for products whose M × N has few tiles, e.g. weight gradients) writes partials that
/// <see cref="ReduceSplits"/> adds in a fixed order, so results are the same run to run. The batched kernels
/// (TensorCoreGemmKernels.Batched.cs) take one product per grid z instead. Launch only on CUDA with
/// <see cref="Threads"/> threads in x; the arithmetic of lanes assumes warps of exactly 32.
/// </summary>
internal static partial class TensorCoreGemmKernels
{
    public const int TileM = 128, TileN = 128, Threads = 256;

    /// <summary>
    /// Blocks of <see cref="Threads"/> a multiprocessor holds at once, as the kernels' launch bounds ask: ptxas then fits a
    /// thread in 128 registers, without spilling, where it took 155–166 in the BF16 and deep TF32 kernels (one block, 8
    /// warps, a multiprocessor). Tf32DeepAtB and Tf32DeepAtBt, which would spill in their loops, go without.
    /// </summary>
    public const int ResidentBlocks = 2;
    private const int WarpTileM = 64, WarpTileN = 32, WarpsN = TileN / WarpTileN;
    private const int Pad = 4, WidePad = 8;

    /// <summary>
    /// k of one stage: 16 for TF32 (two m16n8k8 steps), 32 for BF16 (two m16n8k16 steps), whose elements, packed two to a
    /// word, take the same shared memory.
    /// </summary>
    public static int TileK(bool bf16) => bf16 ? 32 : 16;

    /// <summary>
    /// Elements of a group: consecutive ones along the operand's contiguous axis of global memory, 16-byte loads of four.
    /// </summary>
    public static int GroupLength(bool bf16) => bf16 ? 8 : 4;

    /// <summary>Elements of each operand one thread carries per stage: two groups.</summary>
    public static int ElementsPerThread(bool bf16) => 2 * GroupLength(bf16);

    /// <summary>
    /// Words of one operand's stage, the largest layout's (see <see cref="StageWord"/>): k-contiguous, TileM rows of 16 + 4
    /// words; the line-contiguous ones take less (TF32: 8 rows of 2·TileM + 8 words, BF16: 32 rows of (TileM + 8) / 2).
    /// </summary>
    private const int OperandFloats = TileM * (16 + Pad);

    private const int StageFloats = 2 * OperandFloats;

    /// <summary>Floats of dynamic shared memory a launch needs: two stages of both operands (40 KB).</summary>
    public const int SharedFloats = 2 * StageFloats;

    /// <summary>
    /// Floats of dynamic shared memory a launch of <paramref name="blocks"/> k-blocks per stage needs (see
    /// <see cref="IProducts.Blocks"/>): 40 KB a block.
    /// </summary>
    public static int SharedFloatsOf(int blocks) => blocks * SharedFloats;

    /// <summary>TF32, op(a) k-contiguous, op(b) k-contiguous (c = a·bᵀ). Grid (⌈N/128⌉, ⌈M/128⌉, splits) × 256 threads.</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Tf32ABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32Products, KContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>TF32, op(a) k-contiguous, op(b) column-contiguous (c = a·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Tf32AB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32Products, KContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>TF32, op(a) row-contiguous, op(b) column-contiguous (c = aᵀ·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Tf32AtB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32Products, LineContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>TF32, op(a) row-contiguous, op(b) k-contiguous (aᵀ·b when b has one column).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Tf32AtBt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Tf32Products, LineContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>BF16, op(a) k-contiguous, op(b) k-contiguous (c = a·bᵀ).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16ABt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16Products, KContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>BF16, op(a) k-contiguous, op(b) column-contiguous (c = a·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16AB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16Products, KContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>BF16, op(a) row-contiguous, op(b) column-contiguous (c = aᵀ·b).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16AtB(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16Products, LineContiguous, LineContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>BF16, op(a) row-contiguous, op(b) k-contiguous (aᵀ·b when b has one column).</summary>
    [IlgpuKernel(KernelGrouping.Explicit, Threads = Threads, BlocksPerMultiprocessor = ResidentBlocks)]
    public static void Bf16AtBt(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, TensorCoreGemmArguments g) =>
        Run<Bf16Products, LineContiguous, KContiguous, Unbatched>(a, b, bias, c, activation, g);

    /// <summary>
    /// c[i] = Σ_s partials[s, i] (in split order) [+ bias[i mod N]] [+ c[i]] over the M·N elements, written as the
    /// <paramref name="epilogue"/> says.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void ReduceSplits(Index1D i, ArrayView<float> partials, ArrayView<float> bias, ArrayView<float> c,
        ArrayView<float> activation, int elements, int columns, int splits, int accumulate, int hasBias, int epilogue)
    {
        float sum = 0f;
        for (int s = 0; s < splits; s++) sum += partials[(long)s * elements + i];
        if (hasBias != 0) sum += bias[i % columns];
        if (accumulate != 0) sum += c[i];
        Write(c, activation, i, sum, epilogue);
    }

    /// <summary>
    /// Where element <paramref name="i"/> (of <see cref="ElementsPerThread"/>) of a thread's share of an operand's stage
    /// sits, as (line, k). The elements come in two groups of n = <see cref="GroupLength"/> consecutive ones along the
    /// operand's contiguous axis of global memory (group j = elements nj..nj + n − 1), so 16-byte loads fetch a group, and
    /// consecutive threads take consecutive groups. k-contiguous: group j covers k n·(thread mod 4).. of line
    /// thread/4 + 64j. Line-contiguous: TF32 lines 4·(thread mod 32).. at k w mod 4 + 8·(w/4) + 4j (w = thread/32: the
    /// two groups are the k and k + 4 that a fragment pairs), BF16 lines 8·(thread mod 16).. at k thread/16 + 16j. BF16
    /// elements 2w and 2w + 1 share a word of the stage (see <see cref="StageWord"/>), so a BF16 group is one 16-byte store.
    /// </summary>
    public static (int Line, int K) Position(int thread, int i, bool kContiguous, bool bf16)
    {
        int n = GroupLength(bf16), group = i / n, element = i & (n - 1), warp = thread >> 5;
        if (kContiguous) return ((thread >> 2) + 64 * group, n * (thread & 3) + element);
        return bf16
            ? (8 * (thread & 15) + element, (thread >> 4) + 16 * group)
            : (4 * (thread & 31) + element, (warp & 3) + 8 * (warp >> 2) + 4 * group);
    }

    /// <summary>
    /// The shared-memory word of element (line, k) within an operand's stage. k-contiguous: a row of TileK elements per
    /// line (16 TF32 words, or 16 BF16 pairs of consecutive k), padded by 4 words; rows start on 16 bytes and eight
    /// consecutive rows on distinct groups of four banks, so each 8 × 8 matrix of an <see cref="Mma.LoadMatrices"/> is
    /// free of bank conflicts. Line-contiguous BF16: a row of TileM lines per k (pairs of consecutive lines), padded by 8
    /// elements, rows 4 banks apart. Line-contiguous TF32: k and k + 4 (k mod 8 &lt; 4) interleaved in one row of
    /// 2·TileM + 8 words, (line, k) before (line, k + 4), so the two values of a lane's fragment that share a line are one
    /// 8-byte read (<see cref="Tf32Pair"/>); rows 8 banks apart keep each half-warp's reads on 32 distinct banks.
    /// </summary>
    public static int StageWord(int line, int k, bool kContiguous, bool bf16) => kContiguous
        ? line * (16 + Pad) + (bf16 ? k >> 1 : k)
        : bf16
            ? k * ((TileM + WidePad) / 2) + (line >> 1)
            : ((k & 3) + 4 * (k >> 3)) * (2 * TileM + WidePad) + 2 * line + ((k >> 2) & 1);

    /// <summary>The half of its <see cref="StageWord"/> that BF16 element (line, k) takes: 0 the low, 1 the high.</summary>
    public static int StageHalf(int line, int k, bool kContiguous) => kContiguous ? k & 1 : line & 1;

    /// <summary>
    /// The stage word of the row that a lane addresses (see <see cref="LaneMatrices"/>) in the ldmatrix of a fragment
    /// whose first line is <paramref name="line"/>: an A fragment, or (<paramref name="b"/>) two B fragments. The stage's
    /// rows run along k where k is contiguous; else (BF16, loaded transposed) they run along the lines, which swaps the
    /// order of the matrices: A's are then laid out as B's are along k, and B's as A's.
    /// </summary>
    public static int MatrixWord(in LaneMatrices lanes, int line, bool kContiguous, bool bf16, bool b)
    {
        int first = StageWord(line, 0, kContiguous, bf16);
        int rows = kContiguous ? StageWord(1, 0, true, bf16) : StageWord(0, 1, false, bf16);
        return b == kContiguous ? lanes.BWord(first, rows) : lanes.AWord(first, rows);
    }

    /// <summary>How an operand lies in global memory, and so in its shared stage: a type, so its strides are constants.</summary>
    private interface IOperandLayout
    {
        /// <summary>Whether k is the contiguous axis (else the lines: rows of op(a), columns of op(b)).</summary>
        bool KIsContiguous { get; }
    }

    private readonly struct KContiguous : IOperandLayout
    {
        public bool KIsContiguous => true;
    }

    private readonly struct LineContiguous : IOperandLayout
    {
        public bool KIsContiguous => false;
    }

    /// <summary>Offset of element i's line from element 0's (see <see cref="Position"/>).</summary>
    private static int LineOffset(int i, bool kContiguous, bool bf16) =>
        kContiguous ? 64 * (i / GroupLength(bf16)) : i & (GroupLength(bf16) - 1);

    /// <summary>Offset of element i's k from element 0's (see <see cref="Position"/>).</summary>
    private static int KOffset(int i, bool kContiguous, bool bf16) =>
        kContiguous ? i & (GroupLength(bf16) - 1) : (bf16 ? 16 : 4) * (i / GroupLength(bf16));

    /// <summary>Stage words from a thread's first group to its second.</summary>
    private static int SecondGroupWords(bool kContiguous, bool bf16) => StageWord(LineOffset(GroupLength(bf16), kContiguous, bf16),
        KOffset(GroupLength(bf16), kContiguous, bf16), kContiguous, bf16);

    /// <summary>The products of one stage: TF32 or BF16 fragments read from shared memory into the warp's accumulators.</summary>
    private interface IProducts
    {
        /// <summary>Whether the products round their inputs to BF16 (else TF32).</summary>
        bool Bf16 { get; }

        /// <summary>Whether the operands are BF16 copies (TensorCoreGemmKernels.Copies.cs), not fp32.</summary>
        bool Copies { get; }

        /// <summary>
        /// k-blocks of <see cref="TileK"/> per stage, 1 or 2: a stage of two holds two blocks laid out as a stage of one,
        /// one after the other (and needs twice the shared memory); <see cref="Accumulate"/> takes one block.
        /// </summary>
        int Blocks { get; }

        /// <summary>The stage's products, read where <paramref name="s"/> says.</summary>
        WarpAccumulators Accumulate(WarpAccumulators w, in StageFragments s, bool aK, bool bK);
    }

    /// <summary>One operand's share of a launch for one thread: where its elements are read and staged.</summary>
    private readonly struct OperandCopy
    {
        /// <param name="lineBase">The block's first line (row of c for op(a), column for op(b)).</param>
        /// <param name="blocks">k-blocks per stage (<see cref="IProducts.Blocks"/>).</param>
        public OperandCopy(int thread, bool kContiguous, bool bf16, int blocks, int lines, int lineStride, int kStride, int lineBase,
            int kBegin, int kEnd)
        {
            var (line, k) = Position(thread, 0, kContiguous, bf16);
            First = (long)(lineBase + line) * lineStride + (long)(kBegin + k) * kStride;
            int n = GroupLength(bf16);
            GroupStep = LineOffset(n, kContiguous, bf16) * lineStride + KOffset(n, kContiguous, bf16) * kStride;
            InnerStep = kContiguous ? kStride : lineStride;
            TileStep = (long)(blocks * TileK(bf16)) * kStride;
            LinesLeft = lines - lineBase - line;
            KLeft = kEnd - kBegin - k;
            Shared = StageWord(line, k, kContiguous, bf16);
        }

        /// <summary>Global index of element 0 in the first tile.</summary>
        public long First { get; }

        /// <summary>
        /// Global index from the first group to the second, an int: 32-bit offsets cost a third of 64-bit ones.
        /// </summary>
        public int GroupStep { get; }

        /// <summary>Global index between consecutive elements of a group (1 where the operand is aligned).</summary>
        public int InnerStep { get; }

        /// <summary>Global index between consecutive tiles.</summary>
        public long TileStep { get; }

        /// <summary>Global index between the two k-blocks of a tile of a two-block stage.</summary>
        public long BlockStep => TileStep >> 1;

        /// <summary>Lines from element 0's to the operand's end: element i exists while its line offset is below.</summary>
        public int LinesLeft { get; }

        /// <summary>k from element 0's to the split's end.</summary>
        public int KLeft { get; }

        /// <summary>Shared-memory word of element 0 within a stage.</summary>
        public int Shared { get; }
    }

    /// <summary>
    /// True wherever a k loop runs (it has tiles only where K &gt; 0), which ptxas cannot know: the k loop stages the next
    /// tile under a branch on it, so that ptxas keeps the staging after the tile's products. Without it, ptxas moved the BF16
    /// packing of the next tile's loads above the products (packing halves the registers the loads hold), and every tile
    /// waited there for its loads instead of multiplying meanwhile (the TF32 rounding's NaN test, itself a branch on the
    /// loaded values, stays after the products either way).
    /// </summary>
    private static bool KeepsOrder(in TensorCoreGemmArguments g) => g.K > 0;

    private static void Run<TProducts, TA, TB, TBatch>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias,
        ArrayView<float> c, ArrayView<float> activation, in TensorCoreGemmArguments g)
        where TProducts : struct, IProducts
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
        where TBatch : struct, IBatching
    {
        bool aK = default(TA).KIsContiguous, bK = default(TB).KIsContiguous, bf16 = default(TProducts).Bf16;
        int blocks = default(TProducts).Blocks, blockK = TileK(bf16);
        var shared = SharedMemory.GetDynamic<float>();
        // Shifts and masks, not / and %: ILGPU's signed division by a constant became a reciprocal sequence in the loop.
        int thread = Group.IdxX, lane = thread & (Mma.WarpLanes - 1), warp = thread >> 5;
        int warpRow = (warp >> 2) * WarpTileM, warpCol = (warp & (WarpsN - 1)) * WarpTileN;
        int rowBase = Grid.IdxY * TileM, colBase = Grid.IdxX * TileN;
        // Grid z is a batched launch's item, else the split of k.
        int split = Grid.IdxZ;
        if (default(TBatch).HasItems)
        {
            a = Item(a, g.Batch.Offset(g.Batch.A, split));
            b = Item(b, g.Batch.Offset(g.Batch.B, split));
            c = Item(c, g.Batch.Offset(g.Batch.C, split));
            activation = Item(activation, g.Batch.Offset(g.Batch.C, split));
            split = 0;
        }
        int kBegin = split * g.KPerSplit, kEnd = XMin(g.K, kBegin + g.KPerSplit);
        int tileShift = (bf16 ? 5 : 4) + (blocks >> 1); // log2 of a tile's k, blocks · TileK
        int tiles = (kEnd - kBegin + (blocks * blockK) - 1) >> tileShift;
        var copyA = new OperandCopy(thread, aK, bf16, blocks, g.M, g.ARowStride, g.AKStride, rowBase, kBegin, kEnd);
        var copyB = new OperandCopy(thread, bK, bf16, blocks, g.N, g.BColStride, g.BKStride, colBase, kBegin, kEnd);
        int group = Mma.BColumn(lane), quad = Mma.Tf32BK(lane, 0); // g and t
        var lanes = new LaneMatrices(lane);
        var fragments = new FragmentPlaces(
            StageWord(warpRow + group, quad, aK, bf16), OperandFloats + StageWord(warpCol + group, quad, bK, bf16),
            MatrixWord(lanes, warpRow, aK, bf16, false), OperandFloats + MatrixWord(lanes, warpCol, bK, bf16, true),
            lanes.SharedBase);

        var w = default(WarpAccumulators);
        if (tiles == 0)
        {
            StoreResults<TBatch>(bias, c, activation, g, rowBase + warpRow, colBase + warpCol, lane, w);
            return;
        }
        // Global index of element 0 of the tile being loaded, advanced by a tile's step: no multiplication in the loop.
        long nextA = copyA.First, nextB = copyB.First;
        Store<TProducts>(shared.SubView(copyA.Shared), Load<TProducts>(a, copyA, nextA, 0, aK, bf16, g.VectorA), aK, bf16);
        Store<TProducts>(shared.SubView(OperandFloats + copyB.Shared), Load<TProducts>(b, copyB, nextB, 0, bK, bf16, g.VectorB), bK,
            bf16);
        if (blocks == 2)
        {
            Store<TProducts>(shared.SubView(StageFloats + copyA.Shared),
                Load<TProducts>(a, copyA, nextA + copyA.BlockStep, blockK, aK, bf16, g.VectorA), aK, bf16);
            Store<TProducts>(shared.SubView(StageFloats + OperandFloats + copyB.Shared),
                Load<TProducts>(b, copyB, nextB + copyB.BlockStep, blockK, bK, bf16, g.VectorB), bK, bf16);
        }
        Group.Barrier();
        // Every tile but the last: load the next one, multiply this one, stage the next; the last only multiplies, so
        // nothing is loaded (or zeroed) for a tile that does not exist.
        // The stage's words, and the fragments' places in it carried from tile to tile (ptxas recomputed them from the thread
        // index in every tile, 14-20 instructions, rather than hold them in registers).
        int stage = 0, toOther = blocks * StageFloats;
        for (int tile = 1; tile < tiles; tile++)
        {
            nextA += copyA.TileStep;
            nextB += copyB.TileStep;
            int tileK = tile << tileShift; // tile · TileK
            Staged stagedA = Load<TProducts>(a, copyA, nextA, tileK, aK, bf16, g.VectorA);
            Staged stagedB = Load<TProducts>(b, copyB, nextB, tileK, bK, bf16, g.VectorB);
            Staged secondA = default, secondB = default; // the second k-block's, when a stage has two
            if (blocks == 2)
            {
                secondA = Load<TProducts>(a, copyA, nextA + copyA.BlockStep, tileK + blockK, aK, bf16, g.VectorA);
                secondB = Load<TProducts>(b, copyB, nextB + copyB.BlockStep, tileK + blockK, bK, bf16, g.VectorB);
            }
            w = Products<TProducts>(w, shared, stage, 0, fragments, warpRow, warpCol, lane, aK, bK, bf16);
            if (blocks == 2)
                w = Products<TProducts>(w, shared, stage, StageFloats, fragments, warpRow, warpCol, lane, aK, bK, bf16);
            stage = blocks * StageFloats - stage;
            fragments = fragments.Moved(toOther);
            toOther = -toOther;
            if (KeepsOrder(g))
            {
                Store<TProducts>(shared.SubView(stage + copyA.Shared), stagedA, aK, bf16);
                Store<TProducts>(shared.SubView(stage + OperandFloats + copyB.Shared), stagedB, bK, bf16);
                if (blocks == 2)
                {
                    Store<TProducts>(shared.SubView(stage + StageFloats + copyA.Shared), secondA, aK, bf16);
                    Store<TProducts>(shared.SubView(stage + StageFloats + OperandFloats + copyB.Shared), secondB, bK, bf16);
                }
            }
            Group.Barrier();
        }
        w = Products<TProducts>(w, shared, stage, 0, fragments, warpRow, warpCol, lane, aK, bK, bf16);
        if (blocks == 2)
            w = Products<TProducts>(w, shared, stage, StageFloats, fragments, warpRow, warpCol, lane, aK, bK, bf16);
        StoreResults<TBatch>(bias, c, activation, g, rowBase + warpRow, colBase + warpCol, lane, w);
    }

    /// <summary>
    /// The products of the k-block <paramref name="block"/> words into the stage at <paramref name="stage"/>, whose places
    /// <paramref name="fragments"/> holds: on tensor cores, or emulated on the CPU accelerator.
    /// </summary>
    private static WarpAccumulators Products<TProducts>(WarpAccumulators w, ArrayView<float> shared, int stage, int block,
        in FragmentPlaces fragments, int warpRow, int warpCol, int lane, bool aK, bool bK, bool bf16)
        where TProducts : struct, IProducts =>
        CudaAsm.IsSupported
            ? default(TProducts).Accumulate(w, fragments.Of(shared, block), aK, bK)
            : Emulate(w, shared.SubView(stage + block), warpRow, warpCol, lane, aK, bK, bf16);

    /// <summary>Writes the warp's 64 × 32 results, whose first row is <paramref name="row"/> and column <paramref name="col"/>.</summary>
    private static void StoreResults<TBatch>(ArrayView<float> bias, ArrayView<float> c, ArrayView<float> activation,
        in TensorCoreGemmArguments g, int row, int col, int lane, in WarpAccumulators w)
        where TBatch : struct, IBatching
    {
        var output = new GemmOutput(bias, c, activation);
        StoreRow<TBatch>(output, g, row, col, lane, w.F00, w.F01, w.F02, w.F03);
        StoreRow<TBatch>(output, g, row + 16, col, lane, w.F10, w.F11, w.F12, w.F13);
        StoreRow<TBatch>(output, g, row + 32, col, lane, w.F20, w.F21, w.F22, w.F23);
        StoreRow<TBatch>(output, g, row + 48, col, lane, w.F30, w.F31, w.F32, w.F33);
    }

    /// <summary>
    /// The products of one stage without tensor cores (ILGPU's CPU accelerator with warps of 32, in tests): each
    /// accumulator register gets the sum over the stage's k of the rounded products at the row and column its fragment
    /// layout gives it, read straight from shared memory (emulating the instruction register by register would take a
    /// warp shuffle per element). Everything else of the kernel runs as on a GPU.
    /// </summary>
    private static WarpAccumulators Emulate(WarpAccumulators w, ArrayView<float> stage, int warpRow, int warpCol, int lane, bool aK,
        bool bK, bool bf16)
    {
        var o = new EmulatedStage(stage, aK, bK, bf16);
        Emulate(ref w.F00, o, warpRow, warpCol, lane);
        Emulate(ref w.F01, o, warpRow, warpCol + 8, lane);
        Emulate(ref w.F02, o, warpRow, warpCol + 16, lane);
        Emulate(ref w.F03, o, warpRow, warpCol + 24, lane);
        Emulate(ref w.F10, o, warpRow + 16, warpCol, lane);
        Emulate(ref w.F11, o, warpRow + 16, warpCol + 8, lane);
        Emulate(ref w.F12, o, warpRow + 16, warpCol + 16, lane);
        Emulate(ref w.F13, o, warpRow + 16, warpCol + 24, lane);
        Emulate(ref w.F20, o, warpRow + 32, warpCol, lane);
        Emulate(ref w.F21, o, warpRow + 32, warpCol + 8, lane);
        Emulate(ref w.F22, o, warpRow + 32, warpCol + 16, lane);
        Emulate(ref w.F23, o, warpRow + 32, warpCol + 24, lane);
        Emulate(ref w.F30, o, warpRow + 48, warpCol, lane);
        Emulate(ref w.F31, o, warpRow + 48, warpCol + 8, lane);
        Emulate(ref w.F32, o, warpRow + 48, warpCol + 16, lane);
        Emulate(ref w.F33, o, warpRow + 48, warpCol + 24, lane);
        return w;
    }

    /// <summary>A stage as the emulation reads it: element (line, k) of either operand, as staged (rounded).</summary>
    private readonly struct EmulatedStage(ArrayView<float> stage, bool aK, bool bK, bool bf16)
    {
        public int Depth => TileK(bf16);

        public float Product(int row, int col, int k) =>
            Element(0, row, k, aK) * Element(OperandFloats, col, k, bK);

        private float Element(int offset, int line, int k, bool kContiguous)
        {
            float word = stage[offset + StageWord(line, k, kContiguous, bf16)];
            if (!bf16) return word;
            uint pair = Interop.FloatAsInt(word);
            return Interop.IntAsFloat(StageHalf(line, k, kContiguous) == 0 ? pair << 16 : pair & 0xFFFF0000u);
        }
    }

    private static void Emulate(ref MmaAccumulator f, in EmulatedStage stage, int row, int col, int lane)
    {
        f.C0 = Dot(f.C0, stage, row + Mma.AccumulatorRow(lane, 0), col + Mma.AccumulatorColumn(lane, 0));
        f.C1 = Dot(f.C1, stage, row + Mma.AccumulatorRow(lane, 1), col + Mma.AccumulatorColumn(lane, 1));
        f.C2 = Dot(f.C2, stage, row + Mma.AccumulatorRow(lane, 2), col + Mma.AccumulatorColumn(lane, 2));
        f.C3 = Dot(f.C3, stage, row + Mma.AccumulatorRow(lane, 3), col + Mma.AccumulatorColumn(lane, 3));
    }

    private static float Dot(float sum, in EmulatedStage stage, int row, int col)
    {
        for (int k = 0; k < stage.Depth; k++) sum += stage.Product(row, col, k);
        return sum;
    }

    private static int XMin(int x, int y) => x < y ? x : y;
}
