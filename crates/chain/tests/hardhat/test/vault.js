// Hardhat's matchers and network helpers against whichever network the run names.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time, mine } = require("@nomicfoundation/hardhat-network-helpers");

const SUPPLY = 1_000_000n;
const LOCK = 3600;

async function deployVault() {
  const [owner, alice, bob] = await ethers.getSigners();
  const vault = await ethers.deployContract("Vault", [SUPPLY, LOCK]);
  await vault.waitForDeployment();
  return { vault, owner, alice, bob };
}

describe("Vault", function () {
  it("loadFixture gives every test the state right after deployment", async function () {
    const { vault, owner, alice } = await loadFixture(deployVault);
    expect(await vault.balanceOf(owner.address)).to.equal(SUPPLY);
    await vault.transfer(alice.address, 10n);
    expect(await vault.balanceOf(alice.address)).to.equal(10n);
  });

  it("the transfer of the previous test is undone by the fixture's snapshot", async function () {
    const { vault, owner, alice } = await loadFixture(deployVault);
    expect(await vault.balanceOf(alice.address)).to.equal(0n);
    expect(await vault.balanceOf(owner.address)).to.equal(SUPPLY);
  });

  it("changeTokenBalances sees a transfer from both sides", async function () {
    const { vault, owner, alice } = await loadFixture(deployVault);
    await expect(vault.transfer(alice.address, 250n)).to.changeTokenBalances(
      vault,
      [owner, alice],
      [-250n, 250n],
    );
  });

  it("changeEtherBalance and changeEtherBalances see a payment and a deposit", async function () {
    const { vault, owner, bob } = await loadFixture(deployVault);
    const value = ethers.parseEther("1.5");
    await expect(owner.sendTransaction({ to: bob.address, value })).to.changeEtherBalance(bob, value);
    await expect(vault.deposit({ value })).to.changeEtherBalances([owner, vault], [-value, value]);
  });

  it("revertedWithCustomError names the error and its arguments", async function () {
    const { vault, alice, bob } = await loadFixture(deployVault);
    await expect(vault.connect(alice).transfer(bob.address, 1n))
      .to.be.revertedWithCustomError(vault, "InsufficientBalance")
      .withArgs(alice.address, 0n, 1n);
  });

  it("time.increase opens the lock, and the withdrawal pays the ether back", async function () {
    const { vault, owner } = await loadFixture(deployVault);
    const value = ethers.parseEther("2");
    await vault.deposit({ value });
    await expect(vault.withdraw()).to.be.revertedWithCustomError(vault, "Locked");
    const before = await time.latest();
    await time.increase(LOCK);
    expect(await time.latest()).to.be.greaterThanOrEqual(before + LOCK);
    await expect(vault.withdraw()).to.changeEtherBalances([owner, vault], [value, -value]);
  });

  it("mine adds blocks, spaced by the interval asked", async function () {
    await loadFixture(deployVault);
    const start = await ethers.provider.getBlock("latest");
    await mine(100, { interval: 12 });
    const end = await ethers.provider.getBlock("latest");
    expect(end.number).to.equal(start.number + 100);
    // Where the first new block falls differs between nodes; the spacing after it does not.
    const first = await ethers.provider.getBlock(start.number + 1);
    expect(first.timestamp).to.be.greaterThan(start.timestamp);
    expect(end.timestamp).to.equal(first.timestamp + 99 * 12);
  });

  it("the node's accounts sign messages and typed data", async function () {
    const [owner] = await ethers.getSigners();
    const message = "agora: sign this";
    const signature = await owner.signMessage(message);
    expect(ethers.verifyMessage(message, signature)).to.equal(owner.address);

    const { chainId } = await ethers.provider.getNetwork();
    const domain = { name: "Agora", version: "1", chainId, verifyingContract: ethers.ZeroAddress };
    const types = { Order: [{ name: "app", type: "address" }, { name: "price", type: "uint256" }] };
    const order = { app: owner.address, price: 42n };
    const typed = await owner.signTypedData(domain, types, order);
    expect(ethers.verifyTypedData(domain, types, order, typed)).to.equal(owner.address);
  });
});
