using System.Text;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>A small plain-text corpus for end-to-end CLI runs: documents of words drawn from a short English list.</summary>
internal static class TinyCorpus
{
    private static readonly string[] Words =
        "the people of this union and its states have met in congress to speak for a nation that is free and strong".Split(' ');

    /// <summary>Writes <paramref name="documents"/> files of <paramref name="words"/> words each into <paramref name="folder"/>.</summary>
    public static void Write(string folder, int documents = 24, int words = 120)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(11);
        for (int d = 0; d < documents; d++)
        {
            var text = new StringBuilder();
            for (int w = 0; w < words; w++) text.Append(w == 0 ? "" : " ").Append(Words[random.Next(Words.Length)]);
            File.WriteAllText(Path.Combine(folder, $"doc{d:D2}.txt"), text.ToString());
        }
    }
}
