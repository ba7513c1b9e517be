using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// <c>ldmatrix.sync.aligned.m8n8.x4.shared.b16</c> as the PTX ISA defines it ("Warp-level matrix load instruction:
/// ldmatrix"), on shared memory held as 16-bit halves (two per 32-bit word, the low one first): lane 8j + r gives the word
/// where row r of matrix j starts; lane 4g + t receives in register j the word t of row g, or with <c>.trans</c> the
/// 16-bit elements (row 2t, column g) and (row 2t + 1, column g), the first in the low half.
/// </summary>
internal static class LdmatrixEmulation
{
    /// <summary>The four registers that lane <paramref name="lane"/> receives, rows where <paramref name="rowWord"/> says.</summary>
    public static uint[] Load(uint[] halves, Func<int, int> rowWord, int lane, bool transposed)
    {
        int g = lane >> 2, t = lane & 3;
        var registers = new uint[4];
        for (int j = 0; j < 4; j++)
        {
            if (transposed)
                registers[j] = halves[2 * rowWord(8 * j + 2 * t) + g] | halves[2 * rowWord(8 * j + 2 * t + 1) + g] << 16;
            else
                registers[j] = halves[2 * (rowWord(8 * j + g) + t)] | halves[2 * (rowWord(8 * j + g) + t) + 1] << 16;
        }
        return registers;
    }

    /// <summary>
    /// Every row address 16-byte aligned, and the eight rows of each matrix on 32 distinct banks (no bank conflict).
    /// </summary>
    public static void AssertAlignedWithoutBankConflicts(Func<int, int> rowWord)
    {
        for (int matrix = 0; matrix < 4; matrix++)
        {
            var words = Enumerable.Range(8 * matrix, 8).Select(rowWord).ToArray();
            Assert.All(words, w => Assert.Equal(0, w % 4));
            Assert.Equal(32, words.SelectMany(w => Enumerable.Range(w % 32, 4)).Distinct().Count());
        }
    }
}
