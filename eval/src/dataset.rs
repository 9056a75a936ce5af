//! A labelled photo set as `facerecd eval` reads it: a folder with one
//! sub-folder per person, or a flat folder with `identities.csv`
//! (`file,identity`) and, optionally, `pairs.csv` (`file_x,file_y,same`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// One labelled photo.
#[derive(Debug, Clone)]
pub struct Photo {
    pub path: PathBuf,
    /// `{set}/{identity}`: identities of two sets never merge.
    pub identity: String,
}

/// A verification pair given by the set itself (indices into the photos).
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    pub same: bool,
}

#[derive(Debug, Default)]
pub struct Dataset {
    pub photos: Vec<Photo>,
    /// From `pairs.csv`, or every pair within a set that has none.
    pub pairs: Vec<Pair>,
    /// How many photos each set contributed, by set name.
    pub sets: Vec<(String, usize)>,
}

const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tiff"];

pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files directly in `dir`, sorted by name.
pub fn images_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    files.sort();
    Ok(files)
}

impl Dataset {
    /// Reads every folder in `dirs` into one set.
    pub fn load(dirs: &[PathBuf]) -> anyhow::Result<Self> {
        let mut set = Self::default();
        for dir in dirs {
            let before = set.photos.len();
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("set")
                .to_string();
            if dir.join("identities.csv").is_file() {
                set.add_flat(dir, &name)?;
            } else {
                set.add_folders(dir, &name)?;
            }
            if set.photos.len() == before {
                bail!(
                    "{}: no labelled photos (expected identities.csv or one sub-folder of images per person)",
                    dir.display()
                );
            }
            set.sets.push((name, set.photos.len() - before));
        }
        Ok(set)
    }

    fn add_flat(&mut self, dir: &Path, set: &str) -> anyhow::Result<()> {
        let csv = dir.join("identities.csv");
        let text = std::fs::read_to_string(&csv)
            .with_context(|| format!("cannot read {}", csv.display()))?;
        let first = self.photos.len();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let Some((file, identity)) = line.split_once(',') else {
                bail!("{} line {}: expected file,identity", csv.display(), n + 1);
            };
            let (file, identity) = (file.trim(), identity.trim());
            if file.contains('/') || file.contains("..") {
                bail!(
                    "{} line {}: {file:?} is not a file name",
                    csv.display(),
                    n + 1
                );
            }
            index.insert(file.to_string(), first + index.len());
            self.photos.push(Photo {
                path: dir.join(file),
                identity: format!("{set}/{identity}"),
            });
        }
        let pairs = dir.join("pairs.csv");
        if pairs.is_file() {
            let text = std::fs::read_to_string(&pairs)
                .with_context(|| format!("cannot read {}", pairs.display()))?;
            for (n, line) in text.lines().enumerate().skip(1) {
                let f: Vec<&str> = line.split(',').map(str::trim).collect();
                let [a, b, same] = f.as_slice() else {
                    if line.trim().is_empty() {
                        continue;
                    }
                    bail!(
                        "{} line {}: expected file_x,file_y,same",
                        pairs.display(),
                        n + 1
                    );
                };
                let find = |f: &str| {
                    index.get(f).copied().with_context(|| {
                        format!(
                            "{} line {}: {f} is not in identities.csv",
                            pairs.display(),
                            n + 1
                        )
                    })
                };
                self.pairs.push(Pair {
                    a: find(a)?,
                    b: find(b)?,
                    same: *same == "1",
                });
            }
        }
        Ok(())
    }

    fn add_folders(&mut self, dir: &Path, set: &str) -> anyhow::Result<()> {
        let first = self.photos.len();
        let mut people: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        people.sort();
        for person in people {
            let identity = person.file_name().and_then(|n| n.to_str()).unwrap_or("?");
            for path in images_in(&person)? {
                self.photos.push(Photo {
                    path,
                    identity: format!("{set}/{identity}"),
                });
            }
        }
        // No pair list: every pair within the set.
        let last = self.photos.len();
        for a in first..last {
            for b in a + 1..last {
                let same = self.photos[a].identity == self.photos[b].identity;
                self.pairs.push(Pair { a, b, same });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_per_person_folders_are_read_and_kept_apart() {
        let root = tempfile::tempdir().unwrap();
        let flat = root.path().join("flat");
        std::fs::create_dir_all(&flat).unwrap();
        std::fs::write(
            flat.join("identities.csv"),
            "file,identity\na.jpg,x\nb.jpg,x\nc.jpg,y\n",
        )
        .unwrap();
        std::fs::write(
            flat.join("pairs.csv"),
            "file_x,file_y,same\na.jpg,b.jpg,1\na.jpg,c.jpg,0\n",
        )
        .unwrap();
        let folders = root.path().join("folders");
        std::fs::create_dir_all(folders.join("x")).unwrap();
        std::fs::write(folders.join("x/1.jpg"), b"").unwrap();
        std::fs::write(folders.join("x/2.png"), b"").unwrap();
        std::fs::write(folders.join("x/notes.txt"), b"").unwrap();
        let set = Dataset::load(&[flat, folders]).unwrap();
        let ids: Vec<&str> = set.photos.iter().map(|p| p.identity.as_str()).collect();
        assert_eq!(
            ids,
            ["flat/x", "flat/x", "flat/y", "folders/x", "folders/x"]
        );
        // The flat set's two listed pairs, then the folder set's one pair.
        assert_eq!(set.pairs.len(), 3);
        assert!(set.pairs[2].same && (set.pairs[2].a, set.pairs[2].b) == (3, 4));
        assert!(set.pairs[0].same && !set.pairs[1].same && set.pairs[1].b == 2);

        let empty = root.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let err = Dataset::load(&[empty]).unwrap_err().to_string();
        assert!(err.contains("no labelled photos"), "{err}");
    }
}
