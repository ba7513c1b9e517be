using System.Security.Cryptography;

namespace IlgpuDiffusion.Tests.LanguageModels;

/// <summary>
/// Writes a model folder into a Hugging Face hub cache the way <c>huggingface_hub</c> does: each file as a blob named by its
/// SHA-256 under <c>models--org--name/blobs/</c>, the snapshot's files as relative links to them, and the revision's
/// commit hash in <c>refs/</c>.
/// </summary>
internal static class FakeHubCache
{
    /// <summary>The commit hash the snapshots are stored under.</summary>
    public const string Commit = "3f1c2e9a7b6d5c4b3a291807f6e5d4c3b2a19088";

    /// <summary>Adds the files of <paramref name="modelFolder"/> as repository <paramref name="repoId"/>; returns its snapshot.</summary>
    public static string Add(string root, string repoId, string modelFolder, string revision = "main")
    {
        string repository = Path.Combine(root, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));
        string blobs = Path.Combine(repository, "blobs"), snapshot = Path.Combine(repository, "snapshots", Commit);
        Directory.CreateDirectory(blobs);
        Directory.CreateDirectory(snapshot);
        Directory.CreateDirectory(Path.Combine(repository, "refs"));
        foreach (string file in Directory.GetFiles(modelFolder))
        {
            string hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
            File.Copy(file, Path.Combine(blobs, hash), overwrite: true);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", hash));
        }
        File.WriteAllText(Path.Combine(repository, "refs", revision), Commit);
        return snapshot;
    }
}
