using IlgpuDiffusion.Ilgpu.Kernels;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The shared-memory layout the warpgroup GEMMs stage and the descriptors they give <c>wgmma</c> (PTX ISA, "Matrix
/// Descriptor Format"; <see cref="Wgmma"/>): the emulated kernels read the layout through the function the staging writes
/// it with, so only these tests hold it to the instruction's reading, and nothing but a GPU runs the descriptors.
/// </summary>
public sealed class WgmmaLayoutTests
{
    /// <summary>
    /// Start address (bits 0–13), leading byte offset (16–29) and stride byte offset (32–45), each in units of 16 bytes;
    /// base offset and swizzle mode (62–63) zero: no swizzling.
    /// </summary>
    [Theory]
    [InlineData(0u)]
    [InlineData(0x1230u)]
    [InlineData(0x3FFF0u)] // the last 16 bytes of a 256 KB shared window
    public void A_descriptor_holds_the_address_and_the_offsets_in_16_byte_units(uint address)
    {
        ulong descriptor = Wgmma.Descriptor(address);
        Assert.Equal(address >> 4, descriptor & 0x3FFF);
        Assert.Equal((ulong)Wgmma.LeadingBytes >> 4, (descriptor >> 16) & 0x3FFF);
        Assert.Equal((ulong)Wgmma.StrideBytes >> 4, (descriptor >> 32) & 0x3FFF);
        Assert.Equal(0ul, descriptor & ~0x3FFF_3FFF_3FFFul);
    }

    /// <summary>
    /// A descriptor advanced by a number of bytes (the stage of a ring, the second half of a tile's k) is the descriptor of the
    /// address that many bytes on, up to the last 16 bytes of a 256 KB shared window.
    /// </summary>
    [Theory]
    [InlineData(0u, 0u)]
    [InlineData(0x400u, 0x100u)]
    [InlineData(0x1230u, 3 * 16384u)]
    [InlineData(0x20000u, 0x1FFF0u)]
    public void An_advanced_descriptor_is_the_descriptor_of_the_address_that_far_on(uint address, uint bytes) =>
        Assert.Equal(Wgmma.Descriptor(address + bytes), Wgmma.Advanced(Wgmma.Descriptor(address), bytes));

    /// <summary>
    /// A core matrix is 8 rows of 16 bytes, 128 contiguous bytes: K-major, a row is one line's 16 bytes of k (8 BF16 or 4
    /// TF32); MN-major (BF16), 8 lines at one k. Core matrices lie <see cref="Wgmma.LeadingBytes"/> apart along k and
    /// <see cref="Wgmma.StrideBytes"/> apart along the lines, and a tile's 128 lines × 128 bytes of k fill 16 KB exactly once.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void A_tile_is_core_matrices_of_eight_16_byte_rows(bool kMajor, bool bf16)
    {
        int bytes = bf16 ? 2 : 4, perRow = 16 / bytes, depth = Wgmma.TileKBytes / bytes;
        var seen = new HashSet<int>();
        for (int line = 0; line < 128; line++)
            for (int k = 0; k < depth; k++)
            {
                int at = Wgmma.ElementByte(line, k, kMajor, bf16);
                Assert.True(seen.Add(at), $"({line}, {k}) shares byte {at}");
                Assert.Equal(0, at % bytes);
                int core = (line / 8) * Wgmma.StrideBytes + k / perRow * Wgmma.LeadingBytes;
                int row = kMajor ? line % 8 : k % 8, column = kMajor ? k % perRow : line % 8;
                Assert.Equal(core + 16 * row + bytes * column, at);
            }
        Assert.Equal(128 * 128 / bytes, seen.Count);
        Assert.Equal(128 * 128 - bytes, seen.Max());
    }
    /// <summary>
    /// The pieces each thread of a warpgroup kernel queues (<see cref="TensorCoreGemmKernels.WarpgroupPiece"/>): the 256
    /// threads' four cover a tile's 16-byte rows of core matrices once; the 8 lanes whose 16-byte copies store together
    /// (lanes 8q to 8q + 7 of a warp) write 8 different 16-byte columns of the 32 banks (byte mod 128), so no two share a
    /// bank (the first layout had all 8 in one column: each copy stored in 8 passes, not 1); and a warp's 32 pieces read
    /// 64 contiguous bytes, 64-aligned within the tile, of each of 8 rows of the copy, whole 32-byte sectors where a row
    /// starts on 32 bytes (the model's shapes).
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void A_warp_s_pieces_store_without_bank_conflicts_and_read_whole_sectors(bool kContiguous, bool bf16)
    {
        int bytes = bf16 ? 2 : 4;
        var rows = new HashSet<int>();
        for (int warp = 0; warp < TensorCoreGemmKernels.Threads / 32; warp++)
            for (int piece = 0; piece < 4; piece++)
            {
                var at = new int[32];
                var read = new Dictionary<int, List<int>>(); // row of the copy: the bytes of the tile's part of it read
                for (int lane = 0; lane < 32; lane++)
                {
                    var (line, k, pieceLines) = TensorCoreGemmKernels.WarpgroupPiece(32 * warp + lane, kContiguous, bf16);
                    line += piece * pieceLines;
                    at[lane] = Wgmma.ElementByte(line, k, kContiguous, bf16);
                    Assert.True(at[lane] % 16 == 0 && rows.Add(at[lane] / 16), $"warp {warp} piece {piece} lane {lane}: byte {at[lane]}");
                    var (row, from) = kContiguous ? (line, k * bytes) : (k, line * bytes);
                    read.TryAdd(row, []);
                    read[row].Add(from);
                }
                for (int phase = 0; phase < 4; phase++)
                    Assert.Equal(8, at.Skip(8 * phase).Take(8).Select(b => b % 128 / 16).Distinct().Count());
                Assert.Equal(8, read.Count);
                Assert.All(read.Values, from => Assert.True(from.Min() % 64 == 0 &&
                    from.Order().SequenceEqual(Enumerable.Range(0, 4).Select(i => from.Min() + 16 * i)), string.Join(", ", from)));
            }
        Assert.Equal(TensorCoreGemmKernels.TileM * Wgmma.TileKBytes / 16, rows.Count);
    }
}
